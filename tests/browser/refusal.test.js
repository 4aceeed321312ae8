import assert from 'node:assert/strict';
import { test } from 'node:test';

import { useDemo } from './support.js';

const env = useDemo();

test('a DingTalk account outside the organisation sees why it is refused', async () => {
  const page = await env.newPage();
  await page.goto(env.demo.url);
  await page.click('#login');

  const refusal = page.waitForResponse((r) => r.url().includes('/login/dingtalk/callback'));
  await page.locator('a.person', { hasText: '赵六' }).click();
  assert.equal((await refusal).status(), 403);

  const text = await page.locator('body').innerText();
  assert.match(text, /不是本组织的成员/);
  assert.match(text, /not a member of this organisation/);

  const back = page.getByRole('link', { name: /Back to/ });
  assert.match(await back.getAttribute('href'), /^http:\/\/127\.0\.0\.1:\d+\/demo\/callback\?/);
  await back.click();

  await page.waitForURL((url) => url.pathname === '/demo/callback');
  assert.equal(new URL(page.url()).searchParams.get('error'), 'access_denied');
  const app = await page.locator('body').innerText();
  assert.match(app, /登录失败/);
  assert.match(app, /access_denied/);
});
