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
