// Picket over MQTT 3.1.1 (CONTRACT.md §4), on MQTT.js: TCP (mqtt://) or WebSocket
// (ws://…/mqtt). One MqttClient per connection attempt with MQTT.js's own
// reconnect switched off: the device decides when to retry (backoff with jitter),
// and resends unconfirmed states itself with their original seq.
import { CommandSchema, type Hello, OtaMessageSchema, picketTopic, type State } from '@sentinel/firmware';
import { connect, ErrorWithReasonCode, type MqttClient } from 'mqtt';
import {
  ConnectFailure,
  type DeviceProblem,
  type LinkHandlers,
  type PicketLink,
  type PicketTransport,
  type QoS,
  type TransportCredentials,
  type TransportTuning,
  tuned,
} from './transport.js';
import { decode } from './wire.js';

export interface MqttTransportOptions extends TransportCredentials, TransportTuning {
  /** mqtt://host:port, mqtts://…, ws://host:port/mqtt */
  url: string;
  /** QoS of state messages; status, hello and results always use QoS 1 */
  qos: QoS;
}

// CONNACK return codes that mean "these credentials will not do" (MQTT 3.1.1 §3.2.2.3,
// and their MQTT 5 counterparts); anything else is worth retrying as is.
const REFUSED_CODES = new Set([2, 4, 5, 133, 134, 135]);

function classify(error: Error): DeviceProblem {
  if (error instanceof ErrorWithReasonCode && REFUSED_CODES.has(error.code)) {
    return { code: 'refused', message: error.message };
  }
  return { code: 'unreachable', message: error.message };
}

export function mqttTransport(options: MqttTransportOptions): PicketTransport {
  const { url, id, token, qos } = options;
  const { connectTimeoutMs, keepaliveSeconds, closeTimeoutMs } = tuned(options);
  const topic = {
    status: picketTopic(id, 'status'),
    hello: picketTopic(id, 'hello'),
    state: picketTopic(id, 'state'),
    cmd: picketTopic(id, 'cmd'),
    result: picketTopic(id, 'cmd/result'),
    ota: picketTopic(id, 'ota'),
    otaProgress: picketTopic(id, 'ota/progress'),
  };

  async function open(signal: AbortSignal): Promise<MqttClient> {
    const client = connect(url, {
      clientId: id,
      username: id,
      password: token,
      clean: true,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: connectTimeoutMs,
      keepalive: keepaliveSeconds,
      will: { topic: topic.status, payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const settle = (error?: ConnectFailure) => {
          client.off('connect', onConnect).off('error', onError).off('close', onClose);
          signal.removeEventListener('abort', onAbort);
          if (error) reject(error);
          else resolve();
        };
        const onConnect = () => settle();
        const onError = (error: Error) => settle(new ConnectFailure(classify(error), { cause: error }));
        const onClose = () =>
          settle(
            new ConnectFailure({ code: 'unreachable', message: `${url}: connection closed before CONNACK` }),
          );
        const onAbort = () =>
          settle(new ConnectFailure({ code: 'unreachable', message: 'connection attempt abandoned' }));
        client.on('connect', onConnect).on('error', onError).on('close', onClose);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    } catch (error) {
      // MQTT.js may still report the failure again while tearing down; nobody is listening any more
      client.on('error', () => {});
      client.end(true);
      throw error;
    }
    return client;
  }

  async function subscribeCommands(client: MqttClient, handlers: LinkHandlers): Promise<void> {
    const granted = await client
      .subscribeAsync([topic.cmd, topic.ota], { qos: 1 })
      .catch((cause: unknown) => {
        throw new ConnectFailure(
          { code: 'unreachable', message: `subscribe failed: ${String(cause)}` },
          { cause },
        );
      });
    // A broker signals a refused subscription with granted QoS 128 in SUBACK (MQTT 3.1.1 §3.9.3)
    if (granted.some((g) => g.qos === 128)) {
      handlers.onProblem({
        code: 'subscribe_refused',
        message: `the gateway refused a subscription to ${topic.cmd} or ${topic.ota}`,
      });
    }
  }

  return {
    target: url,
    confirmsStates: qos === 1,
    async connect(handlers, signal) {
      const client = await open(signal);
      // `closing`: the end is ours (close() or a failed set-up), so it is not reported as a loss
      let closing = false;
      // set when close() gives up on a clean goodbye: the device has hung up, so what
      // the gateway confirms from here on never reaches it (and is resent later)
      let hungUp = false;
      let established = false;
      let lastError: string | undefined;
      client.on('error', (error) => {
        lastError = error.message;
      });
      client.on('close', () => {
        if (closing) return;
        closing = true;
        client.end(true);
        if (established) handlers.onClose(lastError ?? 'connection closed');
      });
      client.on('message', (received, payload) => {
        if (received === topic.ota) {
          const message = decode(OtaMessageSchema, payload.toString('utf8'));
          if (message.ok) handlers.onOta?.(message.value);
          else handlers.onProblem({ code: 'bad_frame', message: `${topic.ota}: ${message.error}` });
          return;
        }
        if (received !== topic.cmd) return;
        const command = decode(CommandSchema, payload.toString('utf8'));
        if (command.ok) handlers.onCommand(command.value);
        else handlers.onProblem({ code: 'bad_frame', message: `${topic.cmd}: ${command.error}` });
      });

      client.publish(topic.status, 'online', { qos: 1, retain: true });
      try {
        await subscribeCommands(client, handlers);
      } catch (error) {
        closing = true;
        client.end(true);
        throw error;
      }

      established = true;
      const link: PicketLink = {
        sendHello(hello: Hello) {
          client.publish(topic.hello, JSON.stringify(hello), { qos: 1 });
        },
        sendState(state: State) {
          client.publish(topic.state, JSON.stringify(state), { qos }, (error) => {
            // for QoS 1 the callback runs on PUBACK: the gateway has stored it
            if (!error && qos === 1 && !hungUp) handlers.onAck(state.seq);
          });
        },
        sendResult(result) {
          client.publish(topic.result, JSON.stringify(result), { qos: 1 });
        },
        sendOtaProgress(progress) {
          client.publish(topic.otaProgress, JSON.stringify(progress), { qos: 1 });
        },
        async close() {
          if (closing) return;
          closing = true;
          // A clean DISCONNECT suppresses the will, so say "offline" ourselves
          const goodbye = client
            .publishAsync(topic.status, 'offline', { qos: 1, retain: true })
            .then(() => client.endAsync(false));
          if (!(await withTimeout(goodbye, closeTimeoutMs))) return;
          // end(false) waits for every unconfirmed state, and end(true) is a no-op once it
          // began: drop the socket ourselves, or PUBACKs would keep arriving after close()
          hungUp = true;
          const dropped = client.connected
            ? new Promise<void>((resolve) => client.once('close', () => resolve()))
            : undefined;
          client.stream.destroy();
          await dropped;
        },
      };
      return link;
    },
  };
}

/** Resolves true when `promise` did not settle in time (its failure counts as settled). */
async function withTimeout(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => false,
        () => false,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
