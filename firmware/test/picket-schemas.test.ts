// The picket protocol schemas accept what CONTRACT.md §4 shows and refuse the
// rest with a message that names the field.
import { describe, expect, it } from 'vitest';
import { CONTRACT_HELLO } from '../../test/support/picket.js';
import {
  DeviceFrameSchema,
  HelloSchema,
  PicketIdSchema,
  picketTopic,
  picketTopicPrefix,
  StateSchema,
} from '../src/index.js';

const contractHello = CONTRACT_HELLO;

const issue = (result: {
  success: boolean;
  error?: { issues: { path: PropertyKey[]; message: string }[] };
}) => result.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');

describe('picket protocol v1 schemas', () => {
  it('accept the contract examples', () => {
    expect(HelloSchema.safeParse(contractHello).success).toBe(true);
    expect(StateSchema.safeParse({ seq: 42, values: { temperature: 21.5, relay: false } }).success).toBe(
      true,
    );
    expect(
      DeviceFrameSchema.safeParse({ type: 'state', seq: 1, ts: 1_700_000_000_000, values: { x: null } })
        .success,
    ).toBe(true);
    expect(
      DeviceFrameSchema.safeParse({ type: 'cmd_result', cid: 'c1', ok: false, error: 'jammed' }).success,
    ).toBe(true);
  });

  it('refuse a hello that declares a key twice, in both forms', () => {
    const twice = {
      ...contractHello,
      entities: [
        { key: 'a', platform: 'sensor' },
        { key: 'a', platform: 'switch' },
      ],
    };
    expect(issue(HelloSchema.safeParse(twice))).toContain('entities.1.key: duplicate key "a"');
    expect(issue(DeviceFrameSchema.safeParse({ type: 'hello', ...twice }))).toContain('duplicate key');
  });

  it.each([
    [{ ...contractHello, v: 2 }, 'v'],
    [{ ...contractHello, entities: [{ key: 'Temp!', platform: 'sensor' }] }, 'entities.0.key'],
    [{ ...contractHello, entities: [{ key: 't', platform: 'toaster' }] }, 'entities.0.platform'],
    [{ ...contractHello, fw: '' }, 'fw'],
  ])('refuse a bad hello, naming the field (%#)', (hello, field) => {
    expect(issue(HelloSchema.safeParse(hello))).toMatch(new RegExp(`^${field.replace('.', '\\.')}:`));
  });

  it.each([
    [{ seq: -1, values: { t: 1 } }, 'seq'],
    [{ seq: 1.5, values: { t: 1 } }, 'seq'],
    [{ seq: 1, values: {} }, 'values'],
    [{ seq: 1, values: { t: { nested: 1 } } }, 'values.t'],
    [{ seq: 1, ts: 0, values: { t: 1 } }, 'ts'],
  ])('refuse a bad state, naming the field (%#)', (state, field) => {
    expect(issue(StateSchema.safeParse(state))).toMatch(new RegExp(`^${field.replace('.', '\\.')}`));
  });

  it('keep device ids within the contract pattern and topics under the device prefix', () => {
    expect(PicketIdSchema.safeParse('kitchen-1').success).toBe(true);
    expect(PicketIdSchema.safeParse('Kitchen').success).toBe(false);
    expect(PicketIdSchema.safeParse('a'.repeat(59)).success).toBe(false);
    expect(picketTopic('kitchen', 'cmd/result')).toBe('picket/kitchen/cmd/result');
    expect(picketTopic('kitchen', 'state').startsWith(picketTopicPrefix('kitchen'))).toBe(true);
  });
});
