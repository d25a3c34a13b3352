// Deletes the Redis keys of one test run (those starting with its prefix), with a
// minimal RESP client so the end-to-end test needs no Redis package.

import net from 'node:net';

/** Parses one RESP reply from `buffer` at `offset`: `[value, nextOffset]`, or null if incomplete. */
export function parseReply(buffer, offset = 0) {
  const end = buffer.indexOf('\r\n', offset);
  if (end < 0) return null;
  const type = String.fromCharCode(buffer[offset]);
  const line = buffer.toString('utf8', offset + 1, end);
  const next = end + 2;
  switch (type) {
    case '+':
      return [line, next];
    case '-':
      return [new Error(line), next];
    case ':':
      return [Number(line), next];
    case '$': {
      const length = Number(line);
      if (length < 0) return [null, next];
      if (buffer.length < next + length + 2) return null;
      return [buffer.toString('utf8', next, next + length), next + length + 2];
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return [null, next];
      const items = [];
      let at = next;
      for (let i = 0; i < count; i += 1) {
        const parsed = parseReply(buffer, at);
        if (!parsed) return null;
        items.push(parsed[0]);
        at = parsed[1];
      }
      return [items, at];
    }
    default:
      throw new Error(`unexpected RESP type ${type}`);
  }
}

function encode(args) {
  return `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(String(arg))}\r\n${arg}\r\n`).join('')}`;
}

function connect(url) {
  const parsed = new URL(url);
  const socket = net.createConnection({ host: parsed.hostname || '127.0.0.1', port: Number(parsed.port || 6379) });
  let buffer = Buffer.alloc(0);
  const waiting = [];
  socket.on('data', (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      const parsed = waiting.length > 0 ? parseReply(buffer) : null;
      if (!parsed) break;
      buffer = buffer.subarray(parsed[1]);
      const { resolve, reject } = waiting.shift();
      if (parsed[0] instanceof Error) reject(parsed[0]);
      else resolve(parsed[0]);
    }
  });
  socket.on('error', (error) => waiting.splice(0).forEach(({ reject }) => reject(error)));
  const command = (...args) =>
    new Promise((resolve, reject) => {
      waiting.push({ resolve, reject });
      socket.write(encode(args));
    });
  const ready = new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { ready, command, close: () => socket.end(), parsed };
}

/** Deletes every key that starts with `prefix`; returns how many. */
export async function deleteKeysWithPrefix(url, prefix) {
  const client = connect(url);
  await client.ready;
  try {
    const { parsed } = client;
    if (parsed.password) {
      await client.command('AUTH', ...(parsed.username ? [decodeURIComponent(parsed.username)] : []), decodeURIComponent(parsed.password));
    }
    const db = parsed.pathname.replace('/', '');
    if (db) await client.command('SELECT', db);
    // Keys may contain glob characters of their own; the prefix here does not.
    let cursor = '0';
    let deleted = 0;
    do {
      const [nextCursor, keys] = await client.command('SCAN', cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = nextCursor;
      if (keys.length > 0) deleted += await client.command('DEL', ...keys);
    } while (cursor !== '0');
    return deleted;
  } finally {
    client.close();
  }
}
