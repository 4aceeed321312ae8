// What every browser test needs: the real `dingo demo` binary on a free port, and Debian's
// headless Chromium driven by playwright-core. `useDemo()` starts both before a file's tests
// and always stops both after them, whether the tests passed or not.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const dingoBin = process.env.DINGO_BIN ?? `${repo}target/debug/dingo`;
const chromiumBin = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const screenshotDir = `${repo}target/screenshots/`;

/** A phone held upright (iPhone 12–15 size). */
export const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

/** The DingTalk app's in-app browser on Android, as DingTalk 7.6.0 sends it. */
export const DINGTALK_ANDROID_UA =
  'Mozilla/5.0 (Linux; U; Android 13; zh-CN; 22081212C Build/TKQ1.220829.002) ' +
  'AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/69.0.3497.100 UWS/3.22.2.59 ' +
  'Mobile Safari/537.36 AliApp(DingTalk/7.6.0) com.alibaba.android.rimet/33876591 ' +
  'Channel/700159 language/zh-CN abi/64 UT4Aplus/0.2.25 colorScheme/light DingTalk/7.6.0';

/** Starts `dingo demo` on 127.0.0.1:0; resolves once it prints the URL to open. */
export function startDemo() {
  if (!existsSync(dingoBin)) {
    throw new Error(`${dingoBin} is missing: build it first (scripts/test does)`);
  }
  // No --data-dir: the demo makes a fresh temporary one and removes it when stopped.
  const child = spawn(dingoBin, ['demo', '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  let output = '';
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  let stopping = false;
  const stop = async () => {
    stopping = true;
    process.removeListener('exit', killOnExit);
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM'); // graceful: dingo removes its temporary data directory
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  return new Promise((resolve, reject) => {
    let started = false;
    const fail = (why) => {
      if (started) return;
      started = true;
      stop();
      reject(new Error(`dingo demo did not start: ${why}\n--- its output ---\n${output}`));
    };
    const timer = setTimeout(() => fail('no URL within 20 s'), 20_000);
    child.once('error', (e) => fail(e.message));
    child.once('exit', (code, signal) => {
      fail(`it exited (${signal ?? code})`);
      if (!stopping) {
        console.error(`dingo demo exited (${signal ?? code}) during the tests:\n${output}`);
      }
    });
    child.stderr.on('data', (chunk) => (output += chunk));
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const match = /dingo demo is running\. Open (http:\/\/\S+)/.exec(output);
      if (match && !started) {
        started = true;
        clearTimeout(timer);
        resolve({ url: match[1], origin: new URL(match[1]).origin, stop });
      }
    });
  });
}

/** Debian's Chromium, headless, with a fresh profile and no calls to Google's hosts. */
export function launchChromium() {
  if (!existsSync(chromiumBin)) {
    throw new Error(`${chromiumBin} is missing: apt-get install chromium (scripts/test does)`);
  }
  return chromium.launch({
    executablePath: chromiumBin,
    headless: true,
    // Playwright gives every launch a new empty --user-data-dir of its own.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * Starts the demo and Chromium before this file's tests and stops both after them. Returns an
 * object whose `demo` and `browser` are set once started, and whose `newPage(options)` opens a
 * page in a new browser context (its own cookies) with short timeouts.
 */
export function useDemo() {
  const env = {
    demo: null,
    browser: null,
    async newPage(options = {}) {
      const context = await env.browser.newContext({ locale: 'zh-CN', ...options });
      context.setDefaultTimeout(10_000);
      return context.newPage();
    },
  };
  before(async () => {
    env.demo = await startDemo();
    env.browser = await launchChromium();
  });
  after(async () => {
    await env.browser?.close();
    await env.demo?.stop();
  });
  return env;
}

/** Waits for the demo app's page after a login; returns its heading and the page's text. */
export async function demoResult(page, demo) {
  await page.waitForURL((url) => url.href.startsWith(`${demo.origin}/demo/callback`));
  await page.waitForLoadState('load');
  return {
    heading: (await page.locator('h1').first().textContent())?.trim(),
    text: await page.locator('body').innerText(),
  };
}

/** Saves a full-page screenshot as target/screenshots/NAME.png. */
export async function screenshot(page, name) {
  mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: `${screenshotDir}${name}.png`, fullPage: true });
}

/** Fails unless the page fits the screen's width, so that nothing scrolls sideways. */
export async function assertFitsScreen(page, what) {
  const screen = page.viewportSize().width;
  const [scrollWidth, innerWidth] = await page.evaluate(() => [
    document.documentElement.scrollWidth,
    window.innerWidth,
  ]);
  // A phone's browser widens its layout viewport (innerWidth) to fit wide content and zooms
  // the whole page out, so innerWidth is compared with the screen as well.
  assert.ok(
    scrollWidth <= innerWidth && innerWidth <= screen,
    `${what} is ${scrollWidth}px wide on a ${screen}px screen (innerWidth ${innerWidth})`,
  );
}
