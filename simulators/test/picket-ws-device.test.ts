// A simulated picket against a real WebSocket server playing the gateway's
// /picket endpoint: authentication, frames, acks, resends and commands.
import { CommandResultSchema, type DeviceFrame, HelloSchema } from '@sentinel/firmware';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PicketDevice, type PicketDeviceOptions, waitForEvent } from '../src/index.js';
import {
  type FrameRecord,
  startPicketWsServer,
  type TestPicketWsServer,
} from './support/picket-ws-server.js';

const TOKENS = new Map([['porch', 'tok-porch']]);
type StateFrame = Extract<DeviceFrame, { type: 'state' }>;
const isState = (r: FrameRecord): r is FrameRecord & { frame: StateFrame } => r.frame?.type === 'state';
const stateSeqs = (server: TestPicketWsServer) => server.frames.items.filter(isState).map((r) => r.frame.seq);

describe('picket device over the picket WebSocket', () => {
  let server: TestPicketWsServer;
  let device: PicketDevice | undefined;

  beforeEach(async () => {
    server = await startPicketWsServer({ tokens: TOKENS });
  });
  afterEach(async () => {
    await device?.stop();
    device = undefined;
    await server.close();
  });

  function startDevice(options: Partial<PicketDeviceOptions> = {}): PicketDevice {
    device = new PicketDevice({
      id: 'porch',
      token: 'tok-porch',
      gateway: server.url,
      intervalMs: 40,
      backoff: { initialMs: 20, maxMs: 200 },
      ...options,
    });
    device.start();
    return device;
  }

  it('authenticates with a bearer token, says hello, then sends schema-valid states', async () => {
    startDevice();
    await server.frames.first((r) => isState(r) && r.frame.seq >= 2);
    expect(server.upgrades.items[0]).toEqual({ authorization: 'Bearer porch:tok-porch', accepted: true });
    // every frame passed DeviceFrameSchema
    expect(server.frames.items.every((r) => r.frame !== undefined)).toBe(true);
    const [first] = server.frames.items;
    expect(first?.frame?.type).toBe('hello');
    const { type: _type, ...hello } = first!.frame as Extract<DeviceFrame, { type: 'hello' }>;
    expect(HelloSchema.parse(hello).entities.map((e) => e.key)).toEqual(['temperature', 'humidity', 'relay']);
    expect(stateSeqs(server).slice(0, 3)).toEqual([0, 1, 2]);
  });

  it('forgets acked states: nothing is resent after a reconnect', async () => {
    const d = startDevice();
    await waitForEvent(d, 'acked', { filter: ({ seq }) => seq >= 2 });
    const back = waitForEvent(d, 'connected');
    server.drop('porch');
    await back;
    const fresh = await server.frames.next(isState);
    expect(fresh.frame?.type === 'state' && fresh.frame.seq).toBeGreaterThan(2);
    expect(d.stats.resent).toBe(0);
    // every seq was sent exactly once
    expect(new Set(stateSeqs(server)).size).toBe(stateSeqs(server).length);
  });

  it('resends unacked states, with their original seq and ts, after a reconnect', async () => {
    server.autoAck = false;
    const d = startDevice({ intervalMs: 60_000 });
    const sentBefore = await server.frames.first((r) => isState(r) && r.frame.seq === 0);
    d.publishState();
    await server.frames.first((r) => isState(r) && r.frame.seq === 1);
    // the gateway stores seq 1 only, then the connection breaks
    server.send('porch', { type: 'ack', seq: 1 });
    await waitForEvent(d, 'acked', { filter: ({ seq }) => seq === 1 });

    const mark = server.frames.mark();
    server.drop('porch');
    const resent = await server.frames.firstSince(mark, (r) => isState(r) && r.frame.seq === 0);
    expect(resent.raw).toBe(sentBefore.raw);
    await server.frames.firstSince(mark, (r) => isState(r) && r.frame.seq === 2);
    expect(stateSeqs(server)).toEqual([0, 1, 0, 2]);
    expect(d.stats).toMatchObject({ resent: 1, acked: 1 });
  });

  it('keeps only the newest unacked states when its buffer is full', async () => {
    server.autoAck = false;
    const d = startDevice({ intervalMs: 60_000, bufferSize: 2 });
    await waitForEvent(d, 'connected');
    const dropped = waitForEvent(d, 'problem', { filter: (p) => p.code === 'reading_dropped' });
    d.publishState();
    d.publishState();
    await server.frames.first((r) => isState(r) && r.frame.seq === 2);
    const [problem] = await dropped;
    expect(problem).toMatchObject({ code: 'reading_dropped', seq: 0 });
    const back = waitForEvent(d, 'connected');
    server.drop('porch');
    await back;
    await server.frames.first((r) => isState(r) && r.frame.seq === 3);
    expect(stateSeqs(server)).toEqual([0, 1, 2, 1, 2, 3]);
  });

  it('obeys commands, answers with cmd_result and sends the new state', async () => {
    const d = startDevice({ intervalMs: 60_000 });
    await server.frames.first(isState);
    const handled = waitForEvent(d, 'command');
    server.send('porch', { type: 'cmd', cid: 'w-1', key: 'relay', value: true });
    const [{ result }] = await handled;
    expect(result).toEqual({ cid: 'w-1', ok: true });

    const answer = await server.frames.first((r) => r.frame?.type === 'cmd_result');
    const { type: _type, ...fields } = answer.frame as Extract<DeviceFrame, { type: 'cmd_result' }>;
    expect(CommandResultSchema.parse(fields)).toEqual({ cid: 'w-1', ok: true });
    const state = await server.frames.first((r) => isState(r) && r.frame.seq === 1);
    expect(state.frame?.type === 'state' && state.frame.values.relay).toBe(true);

    server.send('porch', { type: 'cmd', cid: 'w-2', key: 'relay', action: 'toggle' });
    const toggled = await server.frames.first((r) => isState(r) && r.frame.seq === 2);
    expect(toggled.frame?.type === 'state' && toggled.frame.values.relay).toBe(false);

    server.send('porch', { type: 'cmd', cid: 'w-3', key: 'nope', value: 1 });
    const refused = await server.frames.first((r) => r.frame?.type === 'cmd_result' && r.frame.cid === 'w-3');
    expect(refused.frame).toMatchObject({ ok: false, error: 'unknown key "nope"' });
  });

  it('reports error frames and frames that fail the schema, and stays connected', async () => {
    const d = startDevice({ intervalMs: 60_000 });
    await waitForEvent(d, 'connected');
    const gatewayError = waitForEvent(d, 'problem', { filter: (p) => p.code === 'gateway_error' });
    server.send('porch', { type: 'error', reason: 'rate_limited', message: 'slow down' });
    expect((await gatewayError)[0]).toEqual({
      code: 'gateway_error',
      reason: 'rate_limited',
      message: 'slow down',
    });

    const badFrame = waitForEvent(d, 'problem', { filter: (p) => p.code === 'bad_frame' });
    server.send('porch', { type: 'cmd', key: 'relay' });
    await badFrame;
    expect(d.status).toBe('connected');
  });

  it('is refused with a wrong token and keeps retrying', async () => {
    const d = startDevice({ token: 'wrong' });
    const [problem] = await waitForEvent(d, 'problem');
    expect(problem.code).toBe('refused');
    await waitForEvent(d, 'retrying');
    await waitForEvent(d, 'problem', { filter: (p) => p.code === 'refused' });
    expect(server.upgrades.items.map((u) => u.accepted)).toEqual(server.upgrades.items.map(() => false));
    expect(server.upgrades.items.length).toBeGreaterThanOrEqual(2);
  });

  it('reconnects after the server restarts, and its close means offline', async () => {
    const d = startDevice();
    await waitForEvent(d, 'connected');
    const back = waitForEvent(d, 'connected');
    const lost = waitForEvent(d, 'disconnected');
    await server.restart();
    await lost;
    await back;
    expect(server.opened.filter((id) => id === 'porch')).toHaveLength(2);

    const closed = server.closed.next((id) => id === 'porch');
    await d.stop();
    await closed;
  });
});
