/* dingo DingTalk simulator: a stand-in for the DingTalk client's JSAPI (window.dd).
 * Load it with a plain <script src>; codes come from the simulator that served it
 * (POST requestAuthCode next to this script). Failures are {errorCode, errorMessage}:
 * 1000 = not inside DingTalk (user agent), 1001 = simulator unreachable, 1 = V2
 * dd.requestAuthCode on a client too old for it (before 7.0.45, 7.0.50 on PC), 5 = V2 without
 * clientId; others from the simulator. */
(() => {
  'use strict';

  const NOT_IN_DINGTALK = 1000;
  const UNREACHABLE = 1001;
  const TOO_OLD = 1;
  const NO_CLIENT_ID = 5;

  const script =
    document.currentScript || document.querySelector('script[src*="dingtalk.open.js"]');
  const mintUrl = script ? new URL('requestAuthCode', script.src).href : '';

  const ua = navigator.userAgent || '';
  const inDingTalk = /DingTalk/i.test(ua);
  let platform = 'notInDingTalk';
  if (inDingTalk) {
    platform = /iPhone|iPad|iPod/i.test(ua) ? 'ios' : /Android/i.test(ua) ? 'android' : 'pc';
  }
  const version = (ua.match(/DingTalk\/([\d.]+)/i) || [])[1] || '';

  /* V2 requestAuthCode needs DingTalk 7.0.45 on phones, 7.0.50 on PCs; older clients fail it. */
  function knowsV2() {
    if (!version) return true;
    const need = platform === 'pc' ? [7, 0, 50] : [7, 0, 45];
    const have = version.split('.').map(Number);
    for (let i = 0; i < need.length; i += 1) {
      if ((have[i] || 0) !== need[i]) return (have[i] || 0) > need[i];
    }
    return true;
  }

  function mintV2(params) {
    if (!inDingTalk) return Promise.reject(failure(NOT_IN_DINGTALK, 'not in DingTalk'));
    if (!knowsV2()) return Promise.reject(failure(TOO_OLD, 'jsapi not supported by this DingTalk version'));
    if (!params.clientId) return Promise.reject(failure(NO_CLIENT_ID, 'clientId is required'));
    return mint(params.corpId, params.clientId);
  }

  const failure = (errorCode, errorMessage) => ({ errorCode, errorMessage });

  async function mint(corpId, clientId) {
    if (!inDingTalk) throw failure(NOT_IN_DINGTALK, 'not in DingTalk');
    let answer;
    try {
      const response = await fetch(mintUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ corpId, clientId }),
      });
      answer = await response.json();
    } catch (e) {
      throw failure(UNREACHABLE, 'DingTalk simulator unreachable');
    }
    if (typeof answer.code !== 'string') throw failure(answer.errorCode, answer.errorMessage);
    return answer.code;
  }

  /* Calls the callbacks (when given) and returns the promise as well. */
  function settle(promise, onSuccess, onFail) {
    if (onSuccess || onFail) {
      promise.then(
        (result) => onSuccess && onSuccess(result),
        (error) => onFail && onFail(error),
      );
    }
    return promise;
  }

  window.dd = {
    env: { platform, version, appName: inDingTalk ? 'DingTalk' : '' },
    ready(fn) {
      setTimeout(fn, 0);
    },
    /* Handlers are never called: no dd.config step can fail here. */
    error() {},
    config() {},
    requestAuthCode(params = {}) {
      const result = mintV2(params).then((code) => ({ code }));
      return settle(result, params.onSuccess, params.onFail);
    },
    /* The union API resolves {code} too (DINGTALK-API.md Appendix B.7). */
    getAuthCode(params = {}) {
      const result = mintV2(params).then((code) => ({ code }));
      return settle(result, params.success || params.onSuccess, params.fail || params.onFail);
    },
    runtime: {
      permission: {
        requestAuthCode(params = {}) {
          const result = mint(params.corpId).then((code) => ({ code }));
          return settle(result, params.onSuccess, params.onFail);
        },
      },
    },
  };
})();
