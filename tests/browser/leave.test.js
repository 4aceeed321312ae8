import assert from 'node:assert/strict';
import { test } from 'node:test';

import { PHONE, assertFitsScreen, demoResult, screenshot, useDemo } from './support.js';

const env = useDemo();

test('a leave: the person is made to leave in the organisation console and the demo app is logged out within a second', async () => {
  const page = await env.newPage(PHONE);
  await page.goto(env.demo.url);
  await page.click('#login');
  await page.waitForURL(/\/dingtalk-sim\/oauth2\/auth\?/);
  await page.locator('a.person', { hasText: '李四' }).click();
  const { heading, text } = await demoResult(page, env.demo);
  assert.equal(heading, '已登录', `the demo app did not log in; it shows:\n${text}`);

  // The logged-in page links to the simulator's organisation console.
  await page.click('#org-console');
  await page.waitForURL(/\/dingtalk-sim\/org$/);
  await assertFitsScreen(page, 'the organisation console');
  await screenshot(page, 'org-console-phone');
  await page.click('#leave-lisi');
  await page.waitForURL(/\/dingtalk-sim\/org\?done=/);
  assert.match(await page.locator('#done').textContent(), /李四 已离职/);
  assert.match(await page.locator('#member-lisi').textContent(), /已离职/);

  await page.goto(`${env.demo.url}session`);
  assert.equal((await page.locator('#state').textContent()).trim(), '已被注销');
  const ms = Number(await page.locator('#after').getAttribute('data-ms'));
  assert.ok(ms >= 0 && ms < 1000, `the back-channel logout came ${ms} ms after the leave`);
  await assertFitsScreen(page, 'the session page');
});
