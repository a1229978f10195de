// Password hashing: scrypt with self-describing parameters, constant-time checks,
// the policy, and an unknown user costing the same work as a real one.
import { describe, expect, it } from 'vitest';
import {
  checkPasswordPolicy,
  hashPassword,
  isPasswordHash,
  needsRehash,
  PasswordPolicyError,
  SCRYPT_PARAMS,
  verifyDummy,
  verifyPassword,
} from '../src/people/index.js';

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

describe('passwords', () => {
  it('hashes with scrypt N=2^15 r=8 p=1 in a self-describing form, salted', async () => {
    const a = await hashPassword('correct horse battery');
    const b = await hashPassword('correct horse battery');
    expect(a).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b); // a fresh salt each time
    expect(a).not.toContain('horse');
    expect(SCRYPT_PARAMS).toEqual({ ln: 15, r: 8, p: 1 });
    expect(isPasswordHash(a)).toBe(true);
    expect(needsRehash(a)).toBe(false);
  });

  it('verifies the right password and refuses others', async () => {
    const hash = await hashPassword('correct horse battery');
    expect(await verifyPassword('correct horse battery', hash)).toBe(true);
    expect(await verifyPassword('correct horse batterY', hash)).toBe(false);
    expect(await verifyPassword('', hash)).toBe(false);
    expect(await verifyPassword('x'.repeat(5000), hash)).toBe(false);
  });

  it('keeps verifying hashes made with other parameters, and says they need a fresh hash', async () => {
    const old = await hashPassword('correct horse battery', { ln: 14, r: 8, p: 1 });
    expect(old).toMatch(/^\$scrypt\$ln=14,/);
    expect(await verifyPassword('correct horse battery', old)).toBe(true);
    expect(needsRehash(old)).toBe(true);
  });

  it('refuses a tampered or foreign hash without throwing', async () => {
    const hash = await hashPassword('correct horse battery');
    expect(await verifyPassword('correct horse battery', hash.replace('ln=15', 'ln=40'))).toBe(false);
    expect(await verifyPassword('correct horse battery', 'plain-text')).toBe(false);
    expect(await verifyPassword('correct horse battery', hash.slice(0, -4))).toBe(false);
  });

  it('holds the policy: 10 to 1024 characters, counted as characters', async () => {
    expect(() => checkPasswordPolicy('123456789')).toThrow(PasswordPolicyError);
    expect(() => checkPasswordPolicy('1234567890')).not.toThrow();
    expect(() => checkPasswordPolicy('x'.repeat(1025))).toThrow(PasswordPolicyError);
    expect(() => checkPasswordPolicy('x'.repeat(1024))).not.toThrow();
    expect(() => checkPasswordPolicy('🔒🔒🔒🔒🔒🔒🔒🔒🔒')).toThrow(PasswordPolicyError); // 9 characters, 36 bytes
    await expect(hashPassword('short')).rejects.toBeInstanceOf(PasswordPolicyError);
  });

  it('spends the same scrypt work on a user that does not exist', async () => {
    const hash = await hashPassword('correct horse battery');
    await verifyDummy('warm up');
    let real = 0;
    let dummy = 0;
    for (let i = 0; i < 3; i++) {
      real += await timed(() => verifyPassword('wrong password!', hash));
      dummy += await timed(() => verifyDummy('wrong password!'));
    }
    // without the dummy derivation an unknown user answers in microseconds
    // (a loose bound: other processes share the CPU)
    expect(dummy).toBeGreaterThan(real * 0.3);
  });
});
