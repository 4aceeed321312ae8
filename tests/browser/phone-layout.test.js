import assert from 'node:assert/strict';
import { test } from 'node:test';

import { PHONE, assertFitsScreen, demoResult, screenshot, useDemo } from './support.js';

const env = useDemo();

test('pages fit a phone screen', async () => {
  const page = await env.newPage(PHONE);
  await page.goto(env.demo.url);
  await screenshot(page, 'phone-1-demo-home');
  await assertFitsScreen(page, 'the demo home page');

  await page.click('#login');
  await page.waitForURL(/\/oauth2\/auth\?/);
  await screenshot(page, 'phone-2-picker');
  await assertFitsScreen(page, 'the DingTalk sign-in page');

  await page.locator('a.person', { hasText: '赵六' }).click();
  await page.waitForURL(/\/login\/dingtalk\/callback\?/);
  await screenshot(page, 'phone-3-refusal');
  await assertFitsScreen(page, 'the refusal page');

  await page.goto(env.demo.url);
  await page.click('#login');
  await page.locator('a.person', { hasText: '张三' }).click();
  const { heading, text } = await demoResult(page, env.demo);
  assert.equal(heading, '已登录', `the demo app did not log in; it shows:\n${text}`);
  await screenshot(page, 'phone-4-logged-in');
  await assertFitsScreen(page, 'the logged-in page');
});

test('consent: prompt=consent shows what the app asks for, on a phone, and Allow logs in', async () => {
  const page = await env.newPage(PHONE);
  await page.goto(`${env.demo.origin}/demo/login?prompt=consent`);
  await page.locator('a.person', { hasText: '李四' }).click();
  await page.waitForSelector('#consent-agree');
  const text = await page.locator('main').innerText();
  assert.match(text, /「dingo 演示应用 Demo app」请求访问你的信息/);
  assert.match(text, /dingo 演示应用 Demo app asks for your information/);
  assert.match(text, /姓名和头像[\s\S]*Your name and picture/);
  await screenshot(page, 'phone-5-consent');
  await assertFitsScreen(page, 'the consent page');
  await page.click('#consent-agree');
  const { heading, text: result } = await demoResult(page, env.demo);
  assert.equal(heading, '已登录', `the demo app did not log in; it shows:\n${result}`);
  assert.match(await page.locator('#id-token').textContent(), /"sub": "lisi"/);
});
