/* dingo DingTalk simulator: a stand-in for openAuth from dingtalk-design-libs.
 * Load it with a plain <script src>; window.openAuth({clientId, corpId, rpcScope, fieldScope,
 * type}) resolves {status: 'ok' | 'cancel' | 'toAdmin' | 'failed', result}, as decided by the
 * simulator that served it (POST openAuth next to this script). Outside a DingTalk user agent,
 * or when the simulator is unreachable, it resolves 'failed'. */
(() => {
  'use strict';

  const script =
    document.currentScript || document.querySelector('script[src*="open-auth.js"]');
  const url = script ? new URL('openAuth', script.src).href : '';

  window.openAuth = async (params = {}) => {
    const failed = { status: 'failed', result: null };
    if (!/DingTalk/i.test(navigator.userAgent || '') || !url) return failed;
    const { clientId, corpId, rpcScope, fieldScope, type } = params;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ clientId, corpId, rpcScope, fieldScope, type }),
      });
      return await response.json();
    } catch (e) {
      return failed;
    }
  };
})();
