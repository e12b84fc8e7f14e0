import { execFileSync } from 'node:child_process';
import * as amqp from 'amqplib';
import { Kafka, logLevel } from 'kafkajs';
import { RUN_ID } from './helpers';

/** Deletes this run's topics and consumer groups so repeated runs do not pile up on the broker. */
export async function cleanupKafka(brokers: string): Promise<void> {
  const admin = new Kafka({ brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.includes(RUN_ID));
    if (topics.length > 0) await admin.deleteTopics({ topics });
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.includes(RUN_ID));
    // Best effort: a group whose last member is still leaving refuses deletion (NON_EMPTY_GROUP);
    // its offsets then expire with the broker's offsets.retention.minutes.
    if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}

/** Deletes this run's queues and exchanges (listed with rabbitmqctl, deleted over AMQP). */
export async function cleanupRabbit(url: string): Promise<void> {
  const list = (what: string): string[] =>
    execFileSync('rabbitmqctl', ['-q', `list_${what}`, 'name'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.includes(RUN_ID));
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createChannel();
    for (const q of list('queues')) await ch.deleteQueue(q);
    for (const x of list('exchanges')) await ch.deleteExchange(x);
    await ch.close();
  } finally {
    await conn.close();
  }
}
