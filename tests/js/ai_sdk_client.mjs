// Drives a groqstream backend with the real `ai` package, as `useChat` does: its
// DefaultChatTransport sends the request and parses the response (the AI SDK's own
// parseJsonEventStream + uiMessageChunkSchema), and readUIMessageStream builds the UIMessage.
// Usage: node ai_sdk_client.mjs <send|reconnect> <api-url> <package> <chat-id> [json-body]
// Env: AI_SDK_DIR, the directory where `npm install ai` ran. Prints one JSON line.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [mode, api, pkg, chatId, extra] = process.argv.slice(2);
const require = createRequire(join(process.env.AI_SDK_DIR, 'package.json'));
const ai = await import(pathToFileURL(require.resolve(pkg)).href);
const version = require(`${pkg}/package.json`).version;

const transport = new ai.DefaultChatTransport({
  api,
  body: extra ? JSON.parse(extra) : {},
});
const userMessage = {
  id: 'u1',
  role: 'user',
  parts: [{ type: 'text', text: 'What is the weather in Paris?' }],
};
const errors = [];
let chunkStream;
try {
  chunkStream =
    mode === 'send'
      ? await transport.sendMessages({
          chatId,
          messages: [userMessage],
          trigger: 'submit-message',
          messageId: undefined,
          abortSignal: undefined,
        })
      : await transport.reconnectToStream({ chatId });
} catch (e) {
  errors.push(String(e));
}
const chunks = [];
let message = null;
if (chunkStream) {
  const [forChunks, forMessage] = chunkStream.tee();
  const collect = (async () => {
    const reader = forChunks.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
    }
  })().catch(e => errors.push('chunks: ' + String(e)));
  const build = (async () => {
    for await (const m of ai.readUIMessageStream({
      stream: forMessage,
      onError: e => errors.push('stream: ' + String(e)),
    })) {
      message = m;
    }
  })().catch(e => errors.push('message: ' + String(e)));
  await Promise.all([collect, build]);
}
process.stdout.write(
  JSON.stringify({ version, empty: mode !== 'send' && chunkStream === null, chunks, message, errors }) + '\n',
);
