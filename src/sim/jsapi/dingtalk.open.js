/* dingo DingTalk simulator: a stand-in for the DingTalk client's JSAPI (window.dd).
 * Load it with a plain <script src>; codes come from the simulator that served it
 * (POST requestAuthCode next to this script). Failures are {errorCode, errorMessage}:
 * 9 = not inside DingTalk (user agent), 10 = simulator unreachable, others from the simulator. */
(() => {
  'use strict';

  const NOT_IN_DINGTALK = 9;
  const UNREACHABLE = 10;

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
      const result = mint(params.corpId, params.clientId).then((code) => ({ code }));
      return settle(result, params.onSuccess, params.onFail);
    },
    getAuthCode(params = {}) {
      const result = mint(params.corpId, params.clientId).then((code) => ({ authCode: code }));
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
