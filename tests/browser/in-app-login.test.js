import assert from 'node:assert/strict';
import { test } from 'node:test';

import { DINGTALK_ANDROID_UA, PHONE, demoResult, useDemo } from './support.js';

const env = useDemo();

// The simulator's sign-in pages: a person inside the DingTalk client must never see them.
const SIGN_IN_PAGE = /\/oauth2\/(auth|choose)/;

test('in-app login: inside the DingTalk client the person is logged in with no prompt', async () => {
  const page = await env.newPage({ ...PHONE, userAgent: DINGTALK_ANDROID_UA });
  const signInRequests = [];
  let jsapiLoaded = false;
  const signInShown = new Promise((_, reject) => {
    page.on('request', (request) => {
      if (request.url().includes('/dingtalk-sim/jsapi/dingtalk.open.js')) jsapiLoaded = true;
      if (!SIGN_IN_PAGE.test(request.url())) return;
      signInRequests.push(request.url());
      reject(new Error(`the DingTalk sign-in page was requested: ${request.url()}`));
    });
  });
  signInShown.catch(() => {});

  await page.goto(env.demo.url);
  await page.click('#login'); // and nothing more: dd.requestAuthCode answers without a prompt

  const { heading, text } = await Promise.race([demoResult(page, env.demo), signInShown]);
  assert.equal(heading, '已登录', `the demo app did not log in; it shows:\n${text}`);
  assert.match(await page.locator('#id-token').textContent(), /"sub": "sunjing"/);
  assert.deepEqual(signInRequests, [], 'the DingTalk sign-in page was requested');
  assert.ok(jsapiLoaded, "the simulator's JSAPI script was never loaded");
});

test('in-app login: a DingTalk client too old for the V2 JSAPI is logged in the V1 way', async () => {
  const oldClient = DINGTALK_ANDROID_UA.replaceAll('DingTalk/7.6.0', 'DingTalk/6.5.0');
  const page = await env.newPage({ ...PHONE, userAgent: oldClient });
  const mints = [];
  page.on('request', (request) => {
    if (request.url().endsWith('/jsapi/requestAuthCode')) mints.push(JSON.parse(request.postData() ?? '{}'));
  });
  await page.goto(env.demo.url);
  await page.click('#login');

  const { heading, text } = await demoResult(page, env.demo);
  assert.equal(heading, '已登录', `the demo app did not log in; it shows:\n${text}`);
  // The V2 call failed in the client itself; the page asked again without clientId (V1).
  assert.equal(mints.length, 1, JSON.stringify(mints));
  assert.equal(mints[0].clientId, undefined);
});
