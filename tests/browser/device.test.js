import assert from 'node:assert/strict';
import { test } from 'node:test';

import { DINGTALK_ANDROID_UA, PHONE, assertFitsScreen, screenshot, useDemo } from './support.js';

const env = useDemo();
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** What the demo's command-line client sees when it starts a device login. */
async function startDevice() {
  const response = await fetch(`${env.demo.origin}/device_authorization`, {
    method: 'POST',
    body: new URLSearchParams({ client_id: 'demo-cli', scope: 'openid profile' }),
  });
  assert.equal(response.status, 200);
  return response.json();
}

async function poll(deviceCode) {
  const response = await fetch(`${env.demo.origin}/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: DEVICE_GRANT, client_id: 'demo-cli', device_code: deviceCode }),
  });
  return response.json();
}

test('device login: the code typed on a phone, the DingTalk login, then the approval', async () => {
  const device = await startDevice();
  const page = await env.newPage(PHONE);
  await page.goto(device.verification_uri);
  assert.match(await page.locator('main').innerText(), /登录设备[\s\S]*Log in a device/);
  await assertFitsScreen(page, 'the code entry page');
  // Typed as people type it: lower case, without the dash.
  await page.fill('#user_code', device.user_code.replace('-', '').toLowerCase());
  await page.click('#device-continue');

  await page.waitForURL(/\/dingtalk-sim\/oauth2\/auth\?/);
  await page.locator('a.person', { hasText: '李四' }).click();

  await page.waitForSelector('#device-approve');
  const confirm = await page.locator('main').innerText();
  assert.match(confirm, /允许「dingo 演示命令行 Demo CLI」在该设备上登录？/);
  assert.match(confirm, /Approve “dingo 演示命令行 Demo CLI” on this device\?/);
  assert.match(confirm, /李四/);
  assert.equal((await page.locator('#device-code').textContent()).trim(), device.user_code);
  await assertFitsScreen(page, 'the device confirmation page');
  await screenshot(page, 'device-confirmation');

  await page.click('#device-approve');
  await page.waitForSelector('text=设备已批准');
  const tokens = await poll(device.device_code);
  assert.ok(tokens.id_token, JSON.stringify(tokens));
  const claims = JSON.parse(Buffer.from(tokens.id_token.split('.')[1], 'base64url'));
  assert.equal(claims.sub, 'lisi');
  assert.equal(claims.aud, 'demo-cli');
});

test('device login: scanned with DingTalk, the page logs in inside the client with no prompt', async () => {
  const device = await startDevice();
  const page = await env.newPage({ ...PHONE, userAgent: DINGTALK_ANDROID_UA });
  let signInShown = false;
  page.on('request', (request) => {
    if (/\/oauth2\/(auth|choose)/.test(request.url())) signInShown = true;
  });
  // What DingTalk's scanner opens: the QR code's URL.
  await page.goto(device.verification_uri_complete);
  await page.waitForSelector('#device-approve');
  assert.equal(signInShown, false, 'the DingTalk sign-in page was shown');
  assert.match(await page.locator('main').innerText(), /孙静|sunjing/);
  await page.click('#device-deny');
  await page.waitForSelector('text=设备已拒绝');
  assert.equal((await poll(device.device_code)).error, 'access_denied');

  // The QR code a device with a screen shows is an SVG of that same URL.
  const qr = await fetch(`${env.demo.origin}/device/qr.svg?user_code=${device.user_code}`);
  assert.equal(qr.headers.get('content-type'), 'image/svg+xml');
  assert.match(await qr.text(), /<svg[\s\S]*<path/);
});
