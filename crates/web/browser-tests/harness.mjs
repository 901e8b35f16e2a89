// What every browser test needs: a real `opportunities serve` on a fresh database, Debian's
// Chromium driven by playwright-core, and an accessibility check with axe-core.
//
// Environment (scripts/browser-test.sh sets it):
//   OPPORTUNITIES_BIN                  the server binary
//   OPPORTUNITIES_BROWSER_POSTGRES_URL run on PostgreSQL (a fresh schema per server); SQLite if unset
//   CHROMIUM                           the browser (/usr/bin/chromium)
//   OPPORTUNITIES_SCREENSHOTS          a folder to save the screenshots tests take (docs/ in CI)
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const backend = process.env.OPPORTUNITIES_BROWSER_POSTGRES_URL ? 'postgres' : 'sqlite';

/** A database URL nobody else uses: a temporary SQLite file, or a new PostgreSQL schema. */
function freshDatabase(dir) {
  const postgres = process.env.OPPORTUNITIES_BROWSER_POSTGRES_URL;
  if (!postgres) return `sqlite://${join(dir, 'opportunities.db')}`;
  const schema = `browser_${process.pid}_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  execFileSync('psql', ['-q', postgres, '-c', `CREATE SCHEMA ${schema}`]);
  return `${postgres}${postgres.includes('?') ? '&' : '?'}options[search_path]=${schema}`;
}

/**
 * Starts the server on a loopback port and waits until it listens. Resolves to
 * `{ url, printed, stop, database, bin }`: `printed` holds every JSON line the server printed on its standard
 * output (the bootstrap owner's token, the setup link, the address).
 */
export async function startServer(extraArgs = []) {
  const dir = mkdtempSync(join(tmpdir(), 'opportunities-browser-'));
  const bin = process.env.OPPORTUNITIES_BIN ?? 'target/debug/opportunities';
  const database = freshDatabase(dir);
  const args = ['serve', '--listen', '127.0.0.1:0', '--database', database, ...extraArgs];
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } });
  let log = '';
  child.stderr.on('data', (chunk) => { log += chunk; });
  const printed = [];
  const listening = new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const value = JSON.parse(line);
        printed.push(value);
        if (value.listening) resolve(`http://${value.listening}`);
      } catch { /* not one of the JSON lines the server prints */ }
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code} before listening:\n${log}`)));
  });
  const url = await listening;
  const stop = async () => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  return { url, printed, stop, log: () => log, database, bin };
}

/** Headless Chromium as the machine allows it: no sandbox, no calls home. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

/**
 * Runs axe-core on the page and fails on any serious or critical violation, naming each rule
 * and the elements it found.
 */
export async function assertAccessible(page, label) {
  await page.addScriptTag({ content: AXE_SOURCE });
  const results = await page.evaluate(async () => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length > 0) {
    const found = bad.map((v) => `${v.id} (${v.impact}): ${v.help}\n  ${v.nodes.map((n) => n.target.join(' ')).join('\n  ')}`);
    throw new Error(`accessibility violations on ${label}:\n${found.join('\n')}`);
  }
}

/** Saves a screenshot under OPPORTUNITIES_SCREENSHOTS (when set) as NAME.png. */
export async function screenshot(page, name) {
  const folder = process.env.OPPORTUNITIES_SCREENSHOTS;
  if (folder) await page.screenshot({ path: join(folder, `${name}.png`), fullPage: false });
}

/**
 * A caller of the JSON API: `(method, path, body, bearer = token)` resolves to
 * `{ status, json }`.
 */
export function apiCaller(server, token) {
  return async (method, path, body, bearer = token) => {
    const response = await fetch(`${server.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, json: await response.json() };
  };
}

/**
 * A page signed in as the bootstrap owner, who chooses `password` through the set-up link the
 * server printed (usable once per server). `contextOptions` go to the browser context (viewport).
 */
export async function ownerPage(browser, server, password, contextOptions = { viewport: { width: 1280, height: 900 } }) {
  const setupUrl = server.printed.find((line) => line.setup_url).setup_url;
  const page = await (await browser.newContext(contextOptions)).newPage();
  await page.goto(setupUrl);
  await page.fill('#password', password);
  await page.click('button[type=submit]');
  await page.waitForURL(/\/(agenda|board)/);
  return page;
}

/** Another organization with its owner's token, made with the CLI beside the running server. */
export function otherOrganization(server) {
  const printed = execFileSync(server.bin, ['org', 'create', '--name', 'Other clinic', '--owner-email', 'o@other.example',
    '--owner-name', 'Otto', '--database', server.database], { encoding: 'utf8' });
  return JSON.parse(printed.trim().split('\n').pop());
}

/** An amount as the pages write it: `$25,000.00`. */
export function dollars(amount) {
  return `${amount < 0 ? '-' : ''}$${Math.abs(amount).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

/** Fails when the page is wider than its viewport (a 375 px phone must not scroll sideways). */
export async function assertNoSidewaysScroll(page, label) {
  const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
  if (scroll > width) throw new Error(`${label} is ${scroll} px wide in a ${width} px window`);
}
