// Notifications published on `sentinel.notify.<channel>` (documented in docs/automations.md).
// A channel is whatever delivers them (a phone app, a wall display); buttons carry ids
// that come back as events when pressed.
import { z } from 'zod';

/** one subject token: no dots, spaces or wildcards */
export const CHANNEL_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export const notificationActionSchema = z.object({
  /** returned when the button is pressed; unique within the notification */
  id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/),
  title: z.string().min(1).max(64),
});

export const notificationSchema = z
  .object({
    title: z.string().min(1).max(200),
    message: z.string().max(4000),
    severity: z.enum(['info', 'warning', 'critical']).default('info'),
    actions: z.array(notificationActionSchema).max(8).default([]),
    /** a later notification with the same tag replaces this one on the receiving side */
    tag: z.string().max(128).optional(),
  })
  .refine((n) => new Set(n.actions.map((a) => a.id)).size === n.actions.length, {
    message: 'action ids must be unique',
    path: ['actions'],
  });

/** What an automation passes to `notify()`. */
export type NotificationInput = z.input<typeof notificationSchema>;

/** The message on the bus: the notification plus who sent it and when. */
export const notifyMessageSchema = z.object({
  channel: z.string().regex(CHANNEL_PATTERN),
  automation_id: z.string(),
  ts: z.number().int(),
  notification: notificationSchema,
});
export type NotifyMessage = z.infer<typeof notifyMessageSchema>;

export const notifySubject = (channel: string) => `sentinel.notify.${channel}`;
