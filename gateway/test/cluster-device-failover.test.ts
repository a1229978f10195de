// A device provisioned with several gateways: which one each connection attempt
// goes to (the simulator's failover transport, as the firmware does it).
import {
  ConnectFailure,
  failoverTransport,
  type LinkHandlers,
  type PicketLink,
  type PicketTransport,
} from '@sentinel/simulators';
import { describe, expect, it } from 'vitest';

/** A transport that is up or down as the test says, and counts its attempts. */
function fake(name: string) {
  const state = { up: true, attempts: 0 };
  const transport: PicketTransport = {
    target: name,
    confirmsStates: true,
    async connect(_handlers: LinkHandlers, _signal: AbortSignal): Promise<PicketLink> {
      state.attempts++;
      if (!state.up) throw new ConnectFailure({ code: 'unreachable', message: `${name} refused` });
      return {
        sendHello() {},
        sendState() {},
        sendResult() {},
        close: async () => {},
        // which gateway this link went to
        ...({ name } as object),
      } as PicketLink;
    },
  };
  return { transport, state };
}

const handlers: LinkHandlers = { onCommand() {}, onAck() {}, onProblem() {}, onClose() {} };
const linkName = (link: PicketLink) => (link as unknown as { name: string }).name;

describe('failover between gateway URLs', () => {
  it('moves down the list at once when a gateway is down, and stays with the one that worked', async () => {
    const [a, b] = [fake('a'), fake('b')];
    const failover = failoverTransport([a.transport, b.transport]);
    const signal = new AbortController().signal;
    expect(linkName(await failover.connect(handlers, signal))).toBe('a');
    a.state.up = false; // node a dies
    expect(linkName(await failover.connect(handlers, signal))).toBe('b');
    expect(failover.current).toBe(1);
    a.state.up = true; // a is back: the device stays on b, no flapping
    const attemptsOnA = a.state.attempts;
    expect(linkName(await failover.connect(handlers, signal))).toBe('b');
    expect(a.state.attempts).toBe(attemptsOnA);
    expect(failover.target).toBe('a | b');
  });

  it('reports the last failure when every gateway is down, and starts the next attempt further down', async () => {
    const [a, b] = [fake('a'), fake('b')];
    a.state.up = false;
    b.state.up = false;
    const failover = failoverTransport([a.transport, b.transport]);
    await expect(failover.connect(handlers, new AbortController().signal)).rejects.toMatchObject({
      problem: { code: 'unreachable', message: 'b refused' },
    });
    b.state.up = true;
    expect(linkName(await failover.connect(handlers, new AbortController().signal))).toBe('b');
    expect(() => failoverTransport([])).toThrow(RangeError);
  });
});
