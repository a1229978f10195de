// Options: defaults < environment < flags, every option has an env name, and a
// bad value names where it came from.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { GATEWAY_OPTIONS, resolveGatewayConfig } from '../src/config.js';

describe('gateway options', () => {
  it('uses the contract defaults', () => {
    const config = resolveGatewayConfig({}, {});
    expect(config).toMatchObject({
      dataDir: './data',
      mqttPort: 1883,
      httpPort: 8080,
      natsUrl: undefined,
      natsCreds: undefined,
    });
    expect(config.nodeId).toMatch(/^[a-z0-9][a-z0-9_-]{0,63}$/);
  });

  it('takes the environment over defaults and flags over the environment, for every option', () => {
    const samples: Record<string, [string, unknown]> = {
      natsUrl: ['nats://a:4222', 'nats://b:4222'],
      natsCreds: ['/a.creds', '/b.creds'],
      natsPort: ['4223', 4224],
      dataDir: ['/var/a', '/var/b'],
      mqttPort: ['1884', 1885],
      httpPort: ['8081', 8082],
      host: ['127.0.0.1', '::1'],
      publicUrl: ['https://home.example', 'https://gw.example:8443'],
      metricsPublic: ['true', false],
      mqttTlsPort: ['8884', 8885],
      tls: ['auto', 'off'],
      tlsCert: ['/a.pem', '/b.pem'],
      tlsKey: ['/a.key', '/b.key'],
      nodeId: ['node-a', 'node-b'],
      reconnectGraceMs: ['3000', 4000],
      commandTimeoutMs: ['1000', 2000],
      deviceRate: ['5', 6],
      deviceBurst: ['7', 8],
      maxMessageBytes: ['4096', 8192],
      stateFlushMs: ['100', 200],
      historyMaxAge: ['60', 120],
      historyMaxBytes: ['1000000', 2000000],
      lockTtlMs: ['20000', 30000],
      lockHeartbeatMs: ['2000', 3000],
      lockGraceMs: ['1000', 2000],
      natsReplicas: ['1', 3],
      bleOfflineMs: ['5000', 6000],
      haMqtt: ['mqtt://ha.local:1883', 'mqtts://ha.local:8883'],
      haMqttUsername: ['gw-a', 'gw-b'],
      haMqttPassword: ['secret-a', 'secret-b'],
      haMqttCa: ['/ca-a.pem', '/ca-b.pem'],
      haMqttCert: ['/client-a.pem', '/client-b.pem'],
      haMqttKey: ['/client-a.key', '/client-b.key'],
      haDiscoveryPrefix: ['ha', 'homeassistant'],
      haUrl: ['http://ha.local:8123', 'https://ha.example'],
      haToken: ['token-a', 'token-b'],
      haTokenFile: ['/run/ha-a.token', '/run/ha-b.token'],
      haInclude: ['light,switch', 'area:kitchen,sensor.*_temperature'],
      haExclude: ['light.porch', 'binary_sensor'],
      matterUrl: ['ws://a:5580/ws', 'ws://b:5580/ws,wss://c/ws'],
      logLevel: ['warn', 'error'],
    };
    // options that only work with a partner get it from the environment
    const partner: Record<string, NodeJS.ProcessEnv> = {
      tlsCert: { SENTINEL_TLS_KEY: '/k.key' },
      tlsKey: { SENTINEL_TLS_CERT: '/c.pem' },
      haMqttCert: { SENTINEL_HA_MQTT_KEY: '/k.key' },
      haMqttKey: { SENTINEL_HA_MQTT_CERT: '/c.pem' },
      haUrl: { SENTINEL_HA_TOKEN: 't' },
    };
    expect(Object.keys(samples).sort()).toEqual(Object.keys(GATEWAY_OPTIONS).sort());
    for (const [key, [fromEnv, fromFlag]] of Object.entries(samples)) {
      const option = GATEWAY_OPTIONS[key as keyof typeof GATEWAY_OPTIONS];
      expect(option.env).toMatch(/^SENTINEL_[A-Z_]+$/);
      const env = { ...partner[key], [option.env]: fromEnv };
      const envOnly = resolveGatewayConfig({}, env) as Record<string, unknown>;
      expect(String(envOnly[key]), `${option.env}`).toBe(fromEnv);
      const both = resolveGatewayConfig({ [key]: fromFlag }, env) as Record<string, unknown>;
      expect(both[key], option.flag).toBe(fromFlag);
    }
  });

  it('keeps the contract environment names', () => {
    expect(GATEWAY_OPTIONS.natsUrl.env).toBe('SENTINEL_NATS_URL');
    expect(GATEWAY_OPTIONS.natsCreds.env).toBe('SENTINEL_NATS_CREDS');
    expect(GATEWAY_OPTIONS.dataDir.env).toBe('SENTINEL_DATA');
    expect(GATEWAY_OPTIONS.mqttPort.env).toBe('SENTINEL_MQTT_PORT');
    expect(GATEWAY_OPTIONS.httpPort.env).toBe('SENTINEL_HTTP_PORT');
    expect(GATEWAY_OPTIONS.nodeId.env).toBe('SENTINEL_NODE_ID');
  });

  it('reads --metrics-public from the environment as a switch, and wants an http(s) --public-url', () => {
    expect(resolveGatewayConfig({}, {}).metricsPublic).toBe(false);
    expect(resolveGatewayConfig({}, { SENTINEL_METRICS_PUBLIC: '1' }).metricsPublic).toBe(true);
    expect(resolveGatewayConfig({}, { SENTINEL_METRICS_PUBLIC: 'false' }).metricsPublic).toBe(false);
    expect(resolveGatewayConfig({ metricsPublic: true }, {}).metricsPublic).toBe(true);
    expect(() => resolveGatewayConfig({ publicUrl: 'ftp://x' }, {})).toThrow(/^--public-url: /);
    expect(() => resolveGatewayConfig({}, { SENTINEL_PUBLIC_URL: 'not a url' })).toThrow(
      /^SENTINEL_PUBLIC_URL: /,
    );
  });

  it('names the flag or the variable a bad value came from', () => {
    expect(() => resolveGatewayConfig({ mqttPort: 'x' as never }, {})).toThrow(/^--mqtt-port: /);
    expect(() => resolveGatewayConfig({}, { SENTINEL_MQTT_PORT: '99999' })).toThrow(/^SENTINEL_MQTT_PORT: /);
    expect(() => resolveGatewayConfig({ nodeId: 'Bad Node' }, {})).toThrow(/--node-id: must match/);
  });

  it('refuses TLS options that cannot work together, naming the one given', () => {
    expect(() => resolveGatewayConfig({ tlsCert: '/c.pem' }, {})).toThrow(
      /^--tls-cert: --tls-cert and --tls-key go together/,
    );
    expect(() => resolveGatewayConfig({}, { SENTINEL_TLS_KEY: '/k.key' })).toThrow(/^SENTINEL_TLS_KEY: /);
    expect(() => resolveGatewayConfig({ tls: 'auto', tlsCert: '/c.pem', tlsKey: '/k.key' }, {})).toThrow(
      /^--tls: auto generates certificates/,
    );
    expect(resolveGatewayConfig({ tlsCert: '/c.pem', tlsKey: '/k.key' }, {}).tlsKey).toBe('/k.key');
  });

  it('is documented in the README, option by option', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    for (const option of Object.values(GATEWAY_OPTIONS)) {
      expect(readme, option.flag).toContain(`| \`${option.flag}\` | \`${option.env}\` |`);
    }
  });
});
