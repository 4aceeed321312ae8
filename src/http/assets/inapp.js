// The in-app login page: asks the DingTalk client for a login code and posts it to dingo.
// When that fails, it explains why and offers DingTalk's web login; a silent login
// (prompt=none) reports the failure to dingo instead, which answers login_required.
(function () {
  'use strict';
  var config = document.getElementById('in-app-config').dataset;
  var form = document.getElementById('in-app');
  var finished = false;

  function submit(fields) {
    if (finished) return;
    finished = true;
    Object.keys(fields).forEach(function (name) { form.elements[name].value = fields[name]; });
    form.submit();
  }

  function fail(zh, en, reason) {
    if (finished) return;
    if (config.silent === 'true') { submit({ error: reason }); return; }
    finished = true;
    document.getElementById('waiting').hidden = true;
    document.getElementById('problem-zh').textContent = zh;
    document.getElementById('problem-en').textContent = en;
    document.getElementById('problem').hidden = false;
  }

  var timer = setTimeout(function () {
    fail('钉钉客户端没有响应。', 'The DingTalk client did not answer.', 'timeout');
  }, 10000);

  function succeed(code) {
    clearTimeout(timer);
    if (code) submit({ code: code });
    else fail('钉钉没有返回登录码。', 'DingTalk returned no login code.', 'no_code');
  }

  function jsapiFailed(error) {
    var code = error && error.errorCode;
    if (String(code) === '3') {
      fail('此页面的域名未配置在钉钉应用中（errorCode 3）。', 'This page\'s domain is not configured for the DingTalk app (errorCode 3).', 'jsapi_3');
    } else {
      fail('钉钉未能完成免登。', 'DingTalk could not log you in without a password.', 'jsapi_' + code);
    }
  }

  if (config.method === 'open_auth') {
    if (typeof window.openAuth !== 'function') {
      fail('无法加载钉钉授权组件。', 'The DingTalk authorization component could not be loaded.', 'no_open_auth');
      return;
    }
    window.openAuth({ clientId: config.clientId, corpId: config.corpId, rpcScope: config.openAuthScope, fieldScope: '', type: 0 })
      .then(function (answer) {
        var status = answer && answer.status;
        if (status === 'ok') succeed(answer.result && answer.result.authCode);
        else if (status === 'cancel') fail('你取消了授权。', 'You cancelled the authorization.', 'cancel');
        else if (status === 'toAdmin') fail('授权申请已发送给管理员，获批后请重试。', 'The request was sent to your administrator; try again once it is approved.', 'to_admin');
        else fail('钉钉授权失败。', 'DingTalk authorization failed.', 'failed');
      }, function () { fail('钉钉授权失败。', 'DingTalk authorization failed.', 'failed'); });
    return;
  }

  var dd = window.dd;
  if (!dd) {
    fail('无法加载钉钉 JSAPI。', 'The DingTalk JSAPI could not be loaded.', 'no_jsapi');
    return;
  }
  if (dd.env && dd.env.platform === 'notInDingTalk') {
    fail('请在钉钉客户端中打开此应用。', 'Open this app inside the DingTalk client.', 'not_in_dingtalk');
    return;
  }
  function onSuccess(answer) { succeed(answer && (answer.code || answer.authCode)); }
  var hasV1 = dd.runtime && dd.runtime.permission && typeof dd.runtime.permission.requestAuthCode === 'function';
  function requestCodeV1() {
    dd.runtime.permission.requestAuthCode({ corpId: config.corpId, onSuccess: onSuccess, onFail: jsapiFailed });
  }
  function requestCode() {
    if (typeof dd.requestAuthCode === 'function') {
      dd.requestAuthCode({
        corpId: config.corpId,
        clientId: config.clientId,
        onSuccess: onSuccess,
        // An older client fails the V2 call rather than lacking it: once more the V1 way,
        // unless the page's domain is the problem (errorCode 3), which V1 would not mend.
        onFail: function (error) {
          if (hasV1 && String(error && error.errorCode) !== '3') requestCodeV1();
          else jsapiFailed(error);
        },
      });
    } else if (hasV1) {
      requestCodeV1();
    } else {
      fail('此钉钉版本不支持免登，请升级。', 'This DingTalk version cannot log in without a password; please update it.', 'unsupported');
    }
  }
  if (typeof dd.error === 'function') dd.error(jsapiFailed);
  if (typeof dd.ready === 'function') dd.ready(requestCode);
  else requestCode();
})();
