import assert from 'node:assert/strict';
import { test } from 'node:test';

import { demoResult, useDemo } from './support.js';

const env = useDemo();

test('web login: a person picked on the DingTalk page lands in the app with verified claims', async () => {
  const page = await env.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(env.demo.url);
  await page.click('#login');

  // The simulator's DingTalk sign-in page: bilingual, listing the organisation and outsiders.
  await page.waitForURL(/\/dingtalk-sim\/oauth2\/auth\?/);
  const picker = await page.locator('body').innerText();
  assert.match(picker, /钉钉登录 · DingTalk sign-in/);
  for (const name of ['张三', '李四', '赵六']) assert.match(picker, new RegExp(name));

  await page.locator('a.person', { hasText: '张三' }).click(); // the one click

  const { heading, text } = await demoResult(page, env.demo);
  assert.equal(heading, '已登录', `the demo app did not log in; it shows:\n${text}`);
  const idToken = await page.locator('#id-token').textContent();
  assert.match(idToken, /"sub": "zhangsan"/);
  const claims = JSON.parse(idToken);
  assert.equal(claims.iss, env.demo.origin);
  assert.equal(claims.aud, 'demo-app');
  assert.equal(claims.name, '张三');
  assert.equal(claims.userid, 'zhangsan');
  const userinfo = JSON.parse(await page.locator('#userinfo').textContent());
  assert.equal(userinfo.sub, 'zhangsan');
});

test('form_post: the response page posts the code to the app by itself, under its CSP', async () => {
  const page = await env.newPage({ viewport: { width: 1280, height: 800 } });
  const origin = env.demo.origin;
  const callback = `${origin}/demo/callback`;
  const posted = new Promise((resolve) => {
    page.on('request', (request) => {
      if (request.url() === callback && request.method() === 'POST') resolve(request.postData() ?? '');
    });
  });
  const query = new URLSearchParams({
    client_id: 'demo-app',
    redirect_uri: callback,
    response_type: 'code',
    scope: 'openid',
    state: 'form-post-state',
    nonce: 'n-1',
    response_mode: 'form_post',
  });
  await page.goto(`${origin}/authorize?${query}`);
  await page.waitForURL(/\/dingtalk-sim\/oauth2\/auth\?/);
  await page.locator('a.person', { hasText: '张三' }).click();
  const body = new URLSearchParams(await posted);
  assert.equal(body.get('state'), 'form-post-state');
  assert.ok((body.get('code') ?? '').length >= 32, `a code was posted: ${body}`);
  assert.equal(body.get('iss'), origin);
});

test('try again: when DingTalk fails the login, one click on dingo\'s page logs the person in', async () => {
  const page = await env.newPage({ viewport: { width: 1280, height: 800 } });
  // The simulator's console: the next login's code exchange fails with HTTP 500.
  await page.goto(`${env.demo.origin}/dingtalk-sim/org`);
  await page.click('#hiccup');
  await page.waitForSelector('#done');

  await page.goto(env.demo.url);
  await page.click('#login');
  await page.waitForURL(/\/dingtalk-sim\/oauth2\/auth\?/);
  await page.locator('a.person', { hasText: '张三' }).click();
  await page.waitForSelector('#login-again');
  const offer = await page.locator('main').innerText();
  assert.match(offer, /钉钉暂时没有响应[\s\S]*DingTalk did not answer/);
  assert.match(offer, /返回 dingo 演示应用 Demo app · Back to dingo 演示应用 Demo app/);

  await page.click('#login-again'); // the same request: the demo app's state and nonce still match
  await page.waitForURL(/\/dingtalk-sim\/oauth2\/auth\?/);
  await page.locator('a.person', { hasText: '张三' }).click();
  const { heading, text } = await demoResult(page, env.demo);
  assert.equal(heading, '已登录', `the demo app did not log in; it shows:\n${text}`);
  assert.match(await page.locator('#id-token').textContent(), /"sub": "zhangsan"/);
});
