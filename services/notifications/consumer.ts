import { PoisonMessageError, type ReceivedMessage } from '../../bus/types';
import type { NotificationStore } from './store';
import type { LabControl } from '../shared/lab';
import type { MessagingTracer } from '../shared/tracing';

/**
 * The idempotent `order.created` handler: a message that can never be processed (bad JSON, wrong
 * shape) is poison and goes to the dead-letter topic with its reason; a redelivered event is
 * recognised by its id and sends nothing again. The lab control can make the acknowledgement fail
 * after the notification was sent (so the bus redelivers) and turn the idempotency off (control arms).
 */
export function orderCreatedHandler(store: NotificationStore, lab?: LabControl, tracer?: MessagingTracer) {
  return async (msg: ReceivedMessage): Promise<void> => {
    // A CONSUMER span, child of (and linked to) the PRODUCER span whose context the message carries.
    const span = tracer?.start('CONSUMER', msg.topic, msg.id, msg.headers?.traceparent);
    try {
      await handle(store, msg, lab);
      span?.end();
    } catch (err) {
      span?.end((err as Error).message);
      throw err;
    }
  };
}

async function handle(store: NotificationStore, msg: ReceivedMessage, lab: LabControl | undefined): Promise<void> {
  let event: Record<string, unknown>;
  try {
    event = JSON.parse(msg.value) as Record<string, unknown>;
  } catch (err) {
    throw new PoisonMessageError(`value is not JSON: ${(err as Error).message}`);
  }
  const problems: string[] = [];
  if (typeof event !== 'object' || event === null) throw new PoisonMessageError('value must be a JSON object');
  if (typeof event.order_id !== 'string' || !event.order_id) problems.push('order_id must be a non-empty string');
  if (typeof event.user_id !== 'string' || !event.user_id) problems.push('user_id must be a non-empty string');
  if (typeof event.total !== 'number' || !Number.isFinite(event.total)) problems.push('total must be a number');
  if (typeof event.timestamp !== 'string' || Number.isNaN(Date.parse(event.timestamp))) problems.push('timestamp must be an ISO date-time');
  if (problems.length) throw new PoisonMessageError(`order.created schema violation: ${problems.join('; ')}`);
  const eventId = typeof event.event_id === 'string' && event.event_id ? event.event_id : msg.id;
  store.record({ event_id: eventId, order_id: event.order_id as string, user_id: event.user_id as string, total: event.total as number, event_time: event.timestamp as string }, lab?.sickness.idempotency ?? true);
  if (lab?.failAck()) throw new Error(`lab: acknowledgement of event ${eventId} failed after its notification was sent (delivery ${(msg.redeliveries ?? 0) + 1})`);
}
