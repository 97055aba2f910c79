// Browser test of the dashboard example, in Debian's chromium driven by playwright-core.
//
// Starts `manage.py serve` with the demo data on a free port and a fresh SQLite database,
// creates API tokens, then opens two users' pages:
//   A  acme-budget_manager1 signs in through the form (a wrong token first), sees "Developer
//      laptops" in "My pending approvals", opens it and approves it (with its form field);
//   B  acme-cfo on the same request: a non-approver's approve shows the typed error; after A's
//      approval, B's progress, current stage, history and inbox (the request entered it) update
//      live within 2 s, as does A's own inbox (the request left it). Then B's socket is dropped,
//      the CFO approves meanwhile over HTTP, and B catches up after reconnecting.
//   Both executives' inboxes list the overdue "Conference booth" first (badge) and "Developer
//      laptops"; executive 2 rejects the booth with "Reject selected", then executive 1 (whose
//      socket was down) selects both and "Approve selected" shows one result per item: the
//      laptops approved, the booth refused with its error code.
// Finally the workflow diagram and the statistics screens are checked, A creates a purchase
// request and attaches a workflow to it from the workflows screen, and GraphiQL renders
// from the server's own files (no other host) and answers with a token in its Headers pane.
// Screenshots go to <repo>/test-artifacts/frontend-examples/ (with --update-screenshots, the
// README's screenshots in screenshots/ are refreshed too).
//
// Run: npm run build && node tests/e2e.mjs   (needs: chromium at /usr/bin/chromium or CHROMIUM_PATH)
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { copyFileSync, createWriteStream, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const LIVE_DEADLINE_MS = 2000;
const started = Date.now();
const here = dirname(dirname(fileURLToPath(import.meta.url)));
const repo = resolve(here, '..', '..');
const artifacts = join(repo, 'test-artifacts', 'frontend-examples');
const updateScreenshots = process.argv.includes('--update-screenshots');
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const venvPython = join(repo, '.venv', 'bin', 'python');
const python = process.env.WORKFLOWQL_PYTHON || (existsSync(venvPython) ? venvPython : 'python3');

function log(message) {
  console.log(`[e2e ${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`);
}

function fail(message) {
  console.error(`e2e: ${message}`);
  process.exit(2);
}

if (!existsSync(chromiumPath)) {
  fail(`no browser at ${chromiumPath}. Install Debian's chromium: apt-get update && apt-get install -y chromium (or set CHROMIUM_PATH).`);
}
if (!existsSync(join(here, 'dist', 'index.html'))) {
  fail('the app is not built. Run: npm ci && npm run build (in frontend-examples/web).');
}
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch {
  fail('playwright-core is not installed. Run: npm ci (in frontend-examples/web).');
}

mkdirSync(artifacts, { recursive: true });
const database = join(tmpdir(), `workflowql-e2e-${process.pid}-${Date.now()}.sqlite3`);
const env = { ...process.env, DATABASE_URL: `sqlite:///${database}`, DEBUG: '1', PYTHONUNBUFFERED: '1' };
delete env.REDIS_URL; // one server process: the in-memory channel layer is enough
delete env.DJANGO_SETTINGS_MODULE; // as the README runs it (a test runner may have set its own)
env.EMAIL_BACKEND = 'django.core.mail.backends.locmem.EmailBackend'; // keep the server log short

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

const manage = (...args) => promisify(execFile)(python, ['manage.py', ...args], { cwd: repo, env });

let server;
let browser;
const serverLog = join(artifacts, 'server.log');

async function startServer(port) {
  const out = createWriteStream(serverLog);
  server = spawn(python, ['manage.py', 'serve', '--port', String(port), '--no-build-examples'], {
    cwd: repo,
    env,
    detached: true, // its own process group, so cleanup stops everything it started
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout.pipe(out);
  server.stderr.pipe(out);
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`the server exited with ${server.exitCode}`);
    try {
      const response = await fetch(`${base}/examples/`);
      if (response.ok) return base;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('the server did not answer within 90 s');
}

async function stopServer() {
  if (!server || server.exitCode !== null) return;
  const exited = new Promise((r) => server.once('exit', r));
  try {
    process.kill(-server.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-server.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }, 5000);
  await exited;
  clearTimeout(timer);
}

async function cleanup() {
  await browser?.close().catch(() => {});
  await stopServer();
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(database + suffix, { force: true });
}

async function graphql(base, token, query, variables = {}) {
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  assert.ok(!body.errors, `GraphQL errors: ${JSON.stringify(body.errors)}`);
  return body.data;
}

async function shoot(page, name, readme = false) {
  const path = join(artifacts, `${name}.png`);
  await page.screenshot({ path });
  if (readme && updateScreenshots) copyFileSync(path, join(here, 'screenshots', `${name}.png`));
}

const progressOf = (page) =>
  page.getAttribute('[data-testid=progress] [role=progressbar]', 'aria-valuenow');
const inboxCountOf = async (page) => Number(await page.textContent('[data-testid=inbox-count]'));

/** Wait until `predicate(arg)` holds in the page, at most `ms`. */
function until(page, ms, predicate, arg) {
  return page.waitForFunction(predicate, arg, { timeout: Math.max(ms, 1), polling: 50 });
}

async function main() {
  const port = await freePort();
  log(`starting the server on port ${port} (database ${database})`);
  const base = await startServer(port);
  log('server up; creating API tokens');
  const users = ['acme-budget_manager1', 'acme-cfo', 'acme-executive1', 'acme-executive2'];
  // One Python process runs `create_api_token` for each user (each prints its token on a line).
  const { stdout } = await manage(
    'shell',
    '-c',
    `from django.core.management import call_command\nfor user in ${JSON.stringify(users)}: call_command('create_api_token', user)`,
  );
  const printed = stdout.trim().split('\n').slice(-users.length);
  assert.ok(printed.length === users.length && printed.every((line) => /^\S{20,}$/.test(line)), `tokens printed: ${stdout}`);
  const tokens = Object.fromEntries(users.map((user, index) => [user, printed[index]]));

  const inbox = await graphql(
    base,
    tokens['acme-budget_manager1'],
    '{ myPendingApprovals(first: 20) { edges { node { id target { display } } } } }',
  );
  const laptops = inbox.myPendingApprovals.edges.map((e) => e.node).find((n) => n.target.display.includes('Developer laptops'));
  assert.ok(laptops, 'the demo request "Developer laptops" waits for the budget managers');
  const attachmentUrl = `${base}/examples/#/attachments/${laptops.id}`;

  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-gpu',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
    ],
  });
  const pageErrors = [];
  async function open(user, url, { signInThroughForm = false } = {}) {
    const context = await browser.newContext({ viewport: { width: 1200, height: 760 } });
    if (!signInThroughForm) {
      await context.addInitScript((token) => localStorage.setItem('workflowql.token', token), tokens[user]);
    }
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(`${user}: ${error.message}`));
    page.on('console', (message) => message.type() === 'error' && log(`console error (${user}): ${message.text()}`));
    await page.goto(url);
    return page;
  }

  // --- A: sign in through the form (a wrong token first), then open the request.
  const a = await open('acme-budget_manager1', `${base}/examples/`, { signInThroughForm: true });
  await a.fill('#token', 'wfql_not-a-real-token');
  await a.click('button[type=submit]');
  await a.waitForSelector('[data-testid=sign-in-error]:not(:empty)');
  log(`wrong token refused: "${await a.textContent('[data-testid=sign-in-error]')}"`);
  await a.fill('#token', tokens['acme-budget_manager1']);
  await a.click('button[type=submit]');
  await a.waitForSelector(`[data-testid=inbox-row][data-attachment-id="${laptops.id}"]`);
  assert.equal(await a.evaluate(() => localStorage.getItem('workflowql.token')), tokens['acme-budget_manager1']);
  await a.click(`[data-testid=inbox-row][data-attachment-id="${laptops.id}"] a`);
  await a.waitForSelector('input[data-field=allocated_budget]');
  log('A (budget manager 1) signed in and opened the request');

  // --- B: the CFO on the request; not an approver of this stage yet.
  const b = await open('acme-cfo', attachmentUrl);
  await b.waitForSelector('[data-testid=history-item]');
  await b.waitForSelector('[data-testid=connection].live');
  assert.equal(await progressOf(b), '25');
  const cfoInboxBefore = await inboxCountOf(b);
  await b.click('button[data-action=APPROVE]');
  await b.waitForSelector('[data-testid=action-error]:not(:empty)');
  const errorText = await b.textContent('[data-testid=action-error]');
  assert.match(errorText, /\(NOT_AN_APPROVER\)/);
  assert.doesNotMatch(errorText, /[{}]/, 'the error is a sentence, not raw JSON');
  log(`B's approve refused: "${errorText}"`);
  // Delegation picks among the company's colleagues (the `colleagues` lookup): the employee,
  // who appears in no approval or event of this request, is offered; no free-text user id.
  const delegates = await b.$$eval('[data-testid=delegate-to] option', (options) => options.map((o) => o.textContent));
  assert.ok(delegates.includes('Employee'), `delegates offered: ${JSON.stringify(delegates)}`);
  assert.ok(!delegates.includes('Chief Financial Officer'), 'the viewer is not offered as a delegate');
  assert.equal(await b.locator('input[aria-label="User id"]').count(), 0, 'no free-text user id');
  await shoot(b, 'error-not-an-approver');
  await a.waitForSelector('[data-testid=connection].live');

  // --- A approves; B's page and both inboxes must follow within 2 s.
  const aInboxBefore = await inboxCountOf(a);
  await a.fill('input[data-field=allocated_budget]', '15000');
  await a.fill('[data-testid=comment]', 'Fits the budget.');
  const t0 = Date.now();
  await a.click('button[data-action=APPROVE]');
  // Wait longer than the deadline, so a slow update is reported with its real delay.
  const seen = {};
  const watch = (name, page, predicate, arg) =>
    until(page, 10_000, predicate, arg).then(() => (seen[name] = Date.now() - t0));
  await Promise.all([
    watch('A inbox badge', a, (before) => document.querySelector('[data-testid=inbox-count]')?.textContent === String(before - 1), aInboxBefore),
    watch('B progress 50 %', b, () => document.querySelector('[data-testid=progress] [role=progressbar]')?.getAttribute('aria-valuenow') === '50'),
    watch('B stage', b, () => document.querySelector('[data-testid=current-stage]')?.textContent.includes('Final Finance Sign-off')),
    watch('B history', b, () =>
      [...document.querySelectorAll('[data-testid=history-item][data-event-type=APPROVED]')].some((li) => li.textContent.includes('Budget Manager 1')),
    ),
    watch('B inbox badge', b, (before) => document.querySelector('[data-testid=inbox-count]')?.textContent === String(before + 1), cfoInboxBefore),
  ]).catch(async (error) => {
    await shoot(a, 'FAILED-live-a');
    await shoot(b, 'FAILED-live-b');
    throw new Error(`live update incomplete after 10 s (seen: ${JSON.stringify(seen)}): ${error.message}`);
  });
  const liveMs = Math.max(...Object.values(seen));
  log(`live updates after A's click: ${JSON.stringify(seen)} (ms)`);
  assert.ok(liveMs <= LIVE_DEADLINE_MS, `the live updates took ${liveMs} ms (limit ${LIVE_DEADLINE_MS} ms)`);
  await b.waitForSelector('[data-testid=approvers] >> text=Chief Financial Officer');
  await b.waitForSelector('[data-testid=action-error]:empty', { state: 'attached', timeout: 5000 });
  assert.equal(await b.locator('button[data-action=APPROVE].unavailable').count(), 0, 'the CFO may approve now');
  await shoot(b, 'attachment-live', true);
  log('B shows the CFO as the current approver');

  // --- B loses its socket; the CFO approves meanwhile (over HTTP); B catches up on reconnect.
  await b.evaluate(() => window.workflowql.simulateOutage(3000));
  await b.waitForSelector('[data-testid=connection].reconnecting');
  log("B's socket dropped; the CFO approves over HTTP meanwhile");
  const approved = await graphql(
    base,
    tokens['acme-cfo'],
    `mutation($id: ID!) { approveStage(input: { attachmentId: $id, formData: { finance_ref: "FIN-E2E" } }) {
       attachment { id } error { code message } } }`,
    { id: laptops.id },
  );
  assert.equal(approved.approveStage.error, null, JSON.stringify(approved.approveStage.error));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await progressOf(b), '50', 'no update arrives while the socket is down');
  const t1 = Date.now();
  await until(
    b,
    10_000,
    ({ before }) =>
      document.querySelector('[data-testid=connection]')?.classList.contains('live') &&
      document.querySelector('[data-testid=progress] [role=progressbar]')?.getAttribute('aria-valuenow') === '75' &&
      document.querySelector('[data-testid=current-stage]')?.textContent.includes('Executive Approval') &&
      [...document.querySelectorAll('[data-testid=history-item][data-event-type=APPROVED]')].some((li) =>
        li.textContent.includes('Chief Financial Officer'),
      ) &&
      document.querySelector('[data-testid=inbox-count]')?.textContent === String(before),
    { before: cfoInboxBefore },
  );
  log(`B reconnected and caught up (progress 75 %, CFO's approval in the history) ${Date.now() - t1} ms after the approval`);
  // Each history item keeps the state right after its event: the start still reads 0 %.
  const snapshots = await b.evaluate(() =>
    Object.fromEntries(
      [...document.querySelectorAll('[data-testid=history-item]')].map((li) => [
        li.dataset.eventType,
        li.querySelector('[data-testid=history-snapshot]')?.textContent,
      ]),
    ),
  );
  assert.equal(snapshots.STARTED, 'In progress, 0%', JSON.stringify(snapshots));
  log(`history snapshots: ${JSON.stringify(snapshots)}`);

  // --- Bulk decisions in the executives' inboxes: "Developer laptops" now waits at Executive
  // Approval (consensus of both executives), as does "Conference booth" since the seed. The
  // booth's step is made overdue (as if its due time had passed), so it is listed first.
  await manage(
    'shell',
    '-c',
    [
      'from datetime import timedelta',
      'from approval_workflow.models import ApprovalInstance',
      'from django.contrib.contenttypes.models import ContentType',
      'from django.utils import timezone',
      'from backend.demo.models import PurchaseRequest',
      "booth = PurchaseRequest.objects.get(title='Conference booth', requester__username='acme-requester')",
      'ApprovalInstance.objects.filter(flow__content_type=ContentType.objects.get_for_model(booth), ' +
        "flow__object_id=str(booth.pk), status='current').update(due_date=timezone.now() - timedelta(hours=1))",
    ].join('\n'),
  );
  const e1 = await open('acme-executive1', `${base}/examples/#/inbox`);
  const e2 = await open('acme-executive2', `${base}/examples/#/inbox`);
  for (const page of [e1, e2]) {
    await until(page, 10_000, () => document.querySelectorAll('[data-testid=inbox-row]').length === 2);
    await page.waitForSelector('[data-testid=connection].live');
  }
  const rows = await e1.$$eval('[data-testid=inbox-row]', (trs) =>
    trs.map((tr) => ({ id: tr.dataset.attachmentId, text: tr.textContent, overdue: tr.dataset.overdue })),
  );
  assert.match(rows[0].text, /Conference booth/, 'the overdue step comes first');
  assert.equal(rows[0].overdue, 'true');
  assert.match(rows[0].text, /Overdue/);
  assert.equal(rows[1].id, laptops.id);
  assert.equal(rows[1].overdue, 'false');
  const booth = rows[0].id;
  await shoot(e1, 'inbox-overdue');
  // Executive 2 rejects the booth from their inbox (one item, with a reason) while executive 1's
  // socket is down, so executive 1 still lists it and approves both: one result per item.
  await e1.check('[data-testid=select-all]');
  await e1.waitForSelector('[data-testid=selected-count]:text("2 selected")');
  await e2.check(`[data-testid=inbox-row][data-attachment-id="${booth}"] [data-testid=select-row]`);
  assert.equal(await e2.isDisabled('[data-testid=reject-selected]'), true, 'a rejection needs a reason');
  await e2.fill('[data-testid=bulk-reason]', 'Over the events budget.');
  await e1.evaluate(() => window.workflowql.simulateOutage(6000));
  await e1.waitForSelector('[data-testid=connection].reconnecting');
  await e2.click('[data-testid=reject-selected]');
  await e2.waitForSelector(`[data-testid=bulk-result][data-attachment-id="${booth}"][data-ok=true]`);
  await e1.click('[data-testid=approve-selected]');
  await e1.waitForSelector('[data-testid=bulk-result] >> nth=1');
  const results = await e1.$$eval('[data-testid=bulk-result]', (items) =>
    items.map((li) => ({ id: li.dataset.attachmentId, ok: li.dataset.ok, text: li.textContent })),
  );
  log(`bulk approve results: ${JSON.stringify(results)}`);
  assert.deepEqual(
    results.map((r) => [r.id, r.ok]),
    [
      [booth, 'false'],
      [laptops.id, 'true'],
    ],
  );
  assert.match(
    results[0].text,
    /Conference booth .*: The workflow is rejected; this action is not possible now\. \(INVALID_STATE\)$/,
    'the failed item says why, with its code',
  );
  assert.match(results[1].text, /Developer laptops .*: approved, now in Executive Approval$/);
  assert.match(await e1.textContent('[data-testid=bulk-results] p'), /Approved 1 of 2\./);
  // Both items have left executive 1's inbox (the approved one and the rejected one).
  await e1.waitForSelector('[data-testid=inbox-empty]', { timeout: 10_000 });
  await shoot(e1, 'inbox-bulk');
  log('executive 1 approved two items in one request: one approved, one refused with its reason');

  // --- The other screens: the workflow diagram and the statistics.
  await a.goto(`${base}/examples/#/inbox`);
  await a.waitForSelector('[data-testid=inbox-empty], [data-testid=inbox-row]');
  assert.equal(await a.locator(`[data-testid=inbox-row][data-attachment-id="${laptops.id}"]`).count(), 0);
  await shoot(a, 'inbox');
  await a.goto(`${base}/examples/#/workflows`);
  await a.click('[data-testid=workflow-card]');
  await a.waitForSelector('[data-testid=stage-node]');
  assert.equal(await a.locator('[data-testid=lane]').count(), 2);
  assert.equal(await a.locator('[data-testid=stage-node]').count(), 4);
  await shoot(a, 'workflow-diagram', true);

  // --- A creates a purchase request and attaches a workflow to it, with nothing but the API.
  await a.goto(`${base}/examples/#/workflows`);
  // The screen renders its form at once and the cards when the list arrives; fill the form
  // once the list is there, so no later render can replace what was typed.
  await a.waitForSelector('[data-testid=workflow-card]');
  await a.fill('[data-testid=request-amount]', '-3');
  await a.fill('[data-testid=request-title]', 'E2E monitors');
  await a.click('[data-testid=create-request]');
  await a.waitForSelector('[data-testid=new-request-error]:not(:empty)');
  assert.match(await a.textContent('[data-testid=new-request-error]'), /\(VALIDATION_ERROR, field amount\)/);
  await a.fill('[data-testid=request-amount]', '3200.00');
  await a.click('[data-testid=create-request]');
  await a.waitForSelector('[data-testid=attach-workflow] option', { state: 'attached', timeout: 10_000 }).catch(async (error) => {
    await shoot(a, 'FAILED-new-request');
    throw new Error(`no workflow to attach (${await a.textContent('[data-testid=new-request]')}): ${error.message}`);
  });
  const offered = await a.$$eval('[data-testid=attach-workflow] option', (options) => options.map((o) => o.textContent));
  assert.ok(offered.includes('Purchase Request Approval'), `workflows offered: ${JSON.stringify(offered)}`);
  await a.selectOption('[data-testid=attach-workflow]', { label: 'Purchase Request Approval' });
  await a.click('[data-testid=attach]');
  await a.waitForFunction(() => document.querySelector('[data-testid=attachment-title]')?.textContent.includes('E2E monitors'));
  await a.waitForSelector('[data-testid=history-item][data-event-type=ATTACHED]');
  await a.waitForSelector('[data-testid=history-item][data-event-type=STARTED]');
  assert.equal(await a.textContent('[data-testid=attachment-title]'), 'Purchase Request: E2E monitors - $3200.00');
  await shoot(a, 'new-request-attached');
  log('A created a purchase request and attached the purchase workflow to it from the dashboard');
  await a.goto(`${base}/examples/#/statistics`);
  await a.waitForSelector('[data-testid=chart] svg rect');
  assert.equal(await a.locator('[data-testid=chart]').count(), 2);
  await shoot(a, 'statistics', true);

  // --- GraphiQL from this server's own files: the token in its Headers pane, the example query.
  const ide = await browser.newContext({ viewport: { width: 1200, height: 760 } });
  await ide.addInitScript(
    (token) => localStorage.setItem('graphiql:headers', JSON.stringify({ Authorization: `Bearer ${token}` })),
    tokens['acme-cfo'],
  );
  const graphiql = await ide.newPage();
  const foreign = [];
  graphiql.on('request', (request) => {
    if (!request.url().startsWith(base) && !request.url().startsWith('data:')) foreign.push(request.url());
  });
  graphiql.on('pageerror', (error) => pageErrors.push(`graphiql: ${error.message}`));
  await graphiql.goto(`${base}/graphql`);
  await graphiql.click('.graphiql-execute-button');
  await graphiql.waitForFunction(() => document.querySelector('.result-window')?.textContent.includes('"acme-cfo"'));
  assert.deepEqual(foreign, [], 'GraphiQL loads nothing from another host');
  await shoot(graphiql, 'graphiql');
  log('GraphiQL rendered from local files and answered with the token in its Headers pane');

  assert.deepEqual(pageErrors, [], 'no uncaught errors in the pages');
  log(`passed; screenshots in ${artifacts}`);
}

const watchdog = setTimeout(async () => {
  console.error('e2e: timed out after 150 s');
  await cleanup();
  process.exit(1);
}, 150_000);

let status = 0;
try {
  await main();
} catch (error) {
  status = 1;
  console.error(`e2e FAILED: ${error?.stack ?? error}`);
  if (existsSync(serverLog)) {
    const text = readFileSync(serverLog, 'utf8');
    console.error(`--- server log (last 3000 characters of ${serverLog}) ---\n${text.slice(-3000)}`);
  }
} finally {
  await cleanup();
  clearTimeout(watchdog);
}
log(status === 0 ? 'done' : 'failed');
process.exit(status);
