// The /flash page's script (bundled for the browser by flash-routes.ts): lists the
// builds, flashes one over Web Serial with firmware's flasher core, provisions the
// device through POST /api/provision, and renders the same FlashStates as the CLI.
// The repository compiles without DOM types, so the few DOM calls are typed here.

import {
  decodePartitionTable,
  describeState,
  FlasherError,
  type FlasherPort,
  FlasherSession,
  type FlashPart,
  type FlashState,
  findPartition,
  isChipName,
  parseManifest,
  partsForChip,
  percent,
} from '@sentinel/firmware';

interface El {
  textContent: string | null;
  value: string;
  checked: boolean;
  disabled: boolean;
  hidden: boolean;
  className: string;
  scrollTop: number;
  scrollHeight: number;
  replaceChildren(...nodes: El[]): void;
  append(...nodes: (El | string)[]): void;
  addEventListener(type: string, listener: () => void): void;
  setAttribute(name: string, value: string): void;
}
interface Browser {
  document: { getElementById(id: string): El | null; createElement(tag: string): El };
  navigator: { serial?: { requestPort(): Promise<FlasherPort> } };
  location: { host: string; hostname: string; protocol: string };
  fetch(
    url: string,
    init?: { method?: string; headers?: Record<string, string>; body?: string },
  ): Promise<{
    ok: boolean;
    status: number;
    json(): Promise<unknown>;
    arrayBuffer(): Promise<ArrayBuffer>;
  }>;
  atob(text: string): string;
}
const web = globalThis as unknown as Browser;
const $ = (id: string): El => {
  const el = web.document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el;
};

interface Build {
  id: string;
  name: string;
  version?: string;
  chips: string[];
  manifest: string;
}

const PARTITION_TABLE_OFFSET = 0x8000;
let builds: Build[] = [];

function log(line: string): void {
  const logEl = $('log');
  logEl.append(`${line}\n`);
  logEl.scrollTop = logEl.scrollHeight;
}

function show(state: FlashState): void {
  const status = $('status');
  const progress = $('progress');
  status.className = state.state === 'error' ? 'error' : '';
  $('hint').textContent = state.state === 'error' ? state.hint : '';
  status.textContent = state.state === 'error' ? state.message : describeState(state);
  if (state.state === 'writing') progress.setAttribute('value', String(percent(state.written, state.total)));
  else if (state.state === 'reading')
    progress.setAttribute('value', String(percent(state.read, state.total)));
  else if (state.state === 'done') progress.setAttribute('value', '100');
  // progress ticks go to the bar only; every other state, and each part once, gets a log line
  if (state.state === 'connecting') loggedPart = '';
  if (state.state === 'writing') {
    const part = `${state.name}@${state.offset}`;
    if (part === loggedPart) return;
    loggedPart = part;
    const how = state.compressed ? ', compressed' : '';
    log(`writing ${state.name} at 0x${state.offset.toString(16)} (${state.part + 1}/${state.parts}${how})`);
    return;
  }
  if (state.state === 'reading' && state.read > 0) return;
  log(describeState(state));
}

/** the part whose start is in the log already (its progress goes to the bar) */
let loggedPart = '';

async function loadBuilds(): Promise<void> {
  const response = await fetchOk('/api/firmware');
  const listing = (await response.json()) as { builds: Build[]; problems: { id: string; reason: string }[] };
  builds = listing.builds;
  const container = $('builds');
  if (builds.length === 0) {
    const empty = web.document.createElement('p');
    empty.className = 'muted';
    empty.textContent =
      'The gateway holds no firmware yet. Put a build in <data>/firmware/<name>/ with an esp-web-tools manifest.json and its .bin files.';
    container.replaceChildren(empty);
  } else {
    container.replaceChildren(
      ...builds.map((build, index) => {
        const label = web.document.createElement('label');
        const radio = web.document.createElement('input');
        radio.setAttribute('type', 'radio');
        radio.setAttribute('name', 'build');
        radio.setAttribute('value', build.id);
        radio.setAttribute('id', `build-${build.id}`);
        radio.checked = index === 0;
        const chips = web.document.createElement('span');
        chips.className = 'muted';
        chips.textContent = build.chips.join(', ');
        label.append(radio, `${build.name}${build.version ? ` ${build.version}` : ''} `, chips);
        return label;
      }),
    );
  }
  $('problems').textContent = listing.problems.map((p) => `${p.id}: ${p.reason}`).join('\n');
  $('flash').disabled = builds.length === 0 || !web.navigator.serial;
  if (builds.length > 0)
    $('status').textContent = 'Ready. Put the board in download mode if it has no auto-reset.';
}

function selectedBuild(): Build | undefined {
  return builds.find((b) => web.document.getElementById(`build-${b.id}`)?.checked);
}

async function fetchOk(url: string): ReturnType<Browser['fetch']> {
  const response = await web.fetch(url);
  if (response.status === 401) throw new Error('log in (as an admin) to use the flasher');
  if (response.status === 403) throw new Error('the flasher is for admins');
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response;
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  return new Uint8Array(await (await fetchOk(url)).arrayBuffer());
}

async function partsFor(build: Build, family: string): Promise<FlashPart[]> {
  if (!isChipName(family)) throw new Error(`this page cannot flash an ${family}`);
  const manifest = parseManifest(await (await fetchOk(build.manifest)).json());
  const manifestUrl = `${web.location.protocol}//${web.location.host}${build.manifest}`;
  return Promise.all(
    partsForChip(manifest, family, manifestUrl).map(async (part) => ({
      offset: part.offset,
      name: part.path.slice(part.path.lastIndexOf('/') + 1),
      data: await fetchBytes(part.path),
    })),
  );
}

async function provisioningPart(parts: FlashPart[], deviceId: string): Promise<FlashPart> {
  const table = parts.find((p) => p.offset === PARTITION_TABLE_OFFSET);
  if (!table)
    throw new Error('the build has no partition table at 0x8000, so there is no NVS partition to provision');
  const nvs = findPartition(decodePartitionTable(table.data).entries, { type: 'data', subtype: 'nvs' });
  if (!nvs) throw new Error('the build\u2019s partition table has no NVS partition');
  const ssid = $('wifi-ssid').value.trim();
  const response = await web.fetch('/api/provision', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      device_id: deviceId,
      gateway_urls: [$('gateway-url').value.trim()],
      nvs_size: nvs.size,
      ...(ssid ? { wifi: { ssid, password: $('wifi-password').value } } : {}),
    }),
  });
  const reply = (await response.json()) as {
    device_id?: string;
    nvs?: string;
    error?: { code?: string; message?: string };
  };
  if (response.status === 401) throw new Error('log in again (as an admin) to provision a device');
  if (!response.ok || !reply.nvs)
    throw new Error(`the gateway refused to provision: ${reply.error?.message ?? response.status}`);
  const bytes = Uint8Array.from(web.atob(reply.nvs), (c) => c.charCodeAt(0));
  log(`registered ${reply.device_id}; its credentials go into NVS at 0x${nvs.offset.toString(16)}`);
  return { offset: nvs.offset, data: bytes, name: 'provisioning (NVS)' };
}

async function run(): Promise<void> {
  const serial = web.navigator.serial;
  const build = selectedBuild();
  if (!serial || !build) return;
  const deviceId = $('device-id').value.trim();
  const button = $('flash');
  button.disabled = true;
  $('log').replaceChildren();
  let session: FlasherSession | undefined;
  const started = Date.now();
  try {
    const port = await serial.requestPort();
    session = new FlasherSession(port, { baud: Number($('baud').value), onState: show });
    const info = await session.connect();
    const parts = await partsFor(build, info.family);
    const written = await session.write(parts, { erase: $('erase').checked });
    let bytes = written.bytes;
    if (deviceId) bytes += (await session.write([await provisioningPart(parts, deviceId)])).bytes;
    await session.resetAndClose();
    show({ state: 'done', bytes, ms: Date.now() - started });
    if (deviceId) log(`picket-${deviceId} will connect to ${$('gateway-url').value.trim()} once it boots`);
  } catch (error) {
    // FlasherErrors were shown as their error state already; anything else is shown here
    if (!(error instanceof FlasherError))
      show({
        state: 'error',
        code: 'flash_failed',
        message: (error as Error).message,
        hint: 'see the log above',
      });
  } finally {
    await session?.close();
    button.disabled = false;
  }
}

function start(): void {
  const gatewayUrl = $('gateway-url');
  gatewayUrl.value = `${web.location.protocol === 'https:' ? 'wss' : 'ws'}://${web.location.host}/picket`;
  // a device told "localhost" would look for the gateway on itself
  const checkUrl = () => {
    const host = /^[a-z]+:\/\/([^/:]+|\[[^\]]+\])/i.exec(gatewayUrl.value.trim())?.[1] ?? '';
    $('gateway-warn').hidden = !/^(localhost|127\.|\[::1\])/.test(host);
  };
  checkUrl();
  gatewayUrl.addEventListener('input', checkUrl);
  if (!web.navigator.serial) {
    $('unsupported').hidden = false;
    $('status').textContent = 'Web Serial is not available in this browser.';
  }
  $('flash').addEventListener('click', () => void run());
  loadBuilds().catch((error: unknown) => {
    $('builds').textContent = `cannot list the firmware: ${(error as Error).message}`;
  });
}

start();
