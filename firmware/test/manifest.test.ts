// esp-web-tools manifests: read (validated), written back, and resolved to parts for a chip.
import { describe, expect, it } from 'vitest';
import { formatManifest, ManifestError, parseManifest, partsForChip, resolvePartPath } from '../src/index.js';
import { formatErrorExpecter } from './format-errors.js';

// the shape of esp-web-tools' own example manifest, plus one of our chips
const MANIFEST = {
  name: 'Picket',
  version: '1.4.0',
  home_assistant_domain: 'picket',
  new_install_prompt_erase: true,
  builds: [
    {
      chipFamily: 'ESP32',
      parts: [
        { path: 'esp32/app.bin', offset: 65536 },
        { path: 'esp32/bootloader.bin', offset: 4096 },
        { path: 'esp32/partitions.bin', offset: 32768 },
      ],
    },
    {
      chipFamily: 'ESP32-C3',
      improv: false,
      parts: [{ path: 'https://cdn.example/c3/merged.bin', offset: 0 }],
    },
    { chipFamily: 'ESP8266', parts: [{ path: 'esp8266.bin', offset: 0 }] },
  ],
};

const expectManifestError = formatErrorExpecter(ManifestError);

describe('esp-web-tools manifests', () => {
  it('reads a manifest from text or an object and writes it back unchanged (unknown fields kept)', () => {
    const text = JSON.stringify({ ...MANIFEST, funding_url: 'https://example.org', extra: { kept: true } });
    const manifest = parseManifest(text);
    expect(manifest.builds).toHaveLength(3);
    expect(JSON.parse(formatManifest(manifest))).toEqual(JSON.parse(text));
  });

  it('resolves the parts for a chip against a manifest URL, in offset order', () => {
    const manifest = parseManifest(MANIFEST);
    expect(partsForChip(manifest, 'esp32', 'http://gw.local:8080/firmware/picket/manifest.json')).toEqual([
      { path: 'http://gw.local:8080/firmware/picket/esp32/bootloader.bin', offset: 0x1000 },
      { path: 'http://gw.local:8080/firmware/picket/esp32/partitions.bin', offset: 0x8000 },
      { path: 'http://gw.local:8080/firmware/picket/esp32/app.bin', offset: 0x10000 },
    ]);
    expect(partsForChip(manifest, 'esp32c3', 'http://gw.local/m.json')).toEqual([
      { path: 'https://cdn.example/c3/merged.bin', offset: 0 },
    ]);
  });

  it('resolves against a file path', () => {
    expect(resolvePartPath('esp32/app.bin', 'builds/picket/manifest.json')).toBe(
      'builds/picket/esp32/app.bin',
    );
    expect(resolvePartPath('app.bin', 'manifest.json')).toBe('app.bin');
    expect(resolvePartPath('/abs/app.bin', 'builds/manifest.json')).toBe('/abs/app.bin');
    expect(resolvePartPath('../app.bin', 'https://h/a/b/manifest.json')).toBe('https://h/a/app.bin');
  });

  it('says which chips a manifest has when it has no build for this one', () => {
    expectManifestError(
      () => partsForChip(parseManifest(MANIFEST), 'esp32p4', 'm.json'),
      'no-build-for-chip',
      /"Picket" has no build for ESP32-P4 \(it has ESP32, ESP32-C3, ESP8266\)/,
    );
  });

  it('refuses invalid manifests, naming the field', () => {
    expectManifestError(() => parseManifest('{'), 'invalid', /not JSON/);
    expectManifestError(() => parseManifest({ ...MANIFEST, name: '' }), 'invalid', /manifest name/);
    expectManifestError(() => parseManifest({ ...MANIFEST, builds: [] }), 'invalid', /manifest builds/);
    expectManifestError(
      () =>
        parseManifest({ ...MANIFEST, builds: [{ chipFamily: 'ESP31', parts: [{ path: 'a', offset: 0 }] }] }),
      'invalid',
      /builds\.0\.chipFamily/,
    );
    expectManifestError(
      () =>
        parseManifest({ ...MANIFEST, builds: [{ chipFamily: 'ESP32', parts: [{ path: 'a', offset: -1 }] }] }),
      'invalid',
      /builds\.0\.parts\.0\.offset/,
    );
    expectManifestError(
      () => parseManifest({ ...MANIFEST, builds: [MANIFEST.builds[0], MANIFEST.builds[0]] }),
      'invalid',
      /two builds for ESP32/,
    );
    const clash = parseManifest({
      ...MANIFEST,
      builds: [
        {
          chipFamily: 'ESP32-S3',
          parts: [
            { path: 'a', offset: 0 },
            { path: 'b', offset: 0 },
          ],
        },
      ],
    });
    expectManifestError(() => partsForChip(clash, 'esp32s3', 'm.json'), 'overlapping-parts', /offset 0x0/);
  });
});
