// A TypeScript-SDK MCP client for memcollab's HTTP server: node client.mjs URL TOKEN
// Prints one JSON object with what it saw; exits non-zero on any failure.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, token] = process.argv.slice(2);
const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
});
const client = new Client({ name: "ts-sdk-test", version: "1.0.0" });
await client.connect(transport);
const tools = (await client.listTools()).tools.map((t) => t.name).sort();
const submitted = await client.callTool({
  name: "submit_trajectory",
  arguments: { task: "What is 6*7?", model: "ts-model", final_answer: "42", outcome: "correct",
               steps: ["multiply 6 by 7"] },
});
const got = await client.callTool({ name: "get_constraints", arguments: { task: "What is 6*7?", category: "Prealgebra" } });
const refused = await client.callTool({ name: "forget", arguments: { model: "ts-model" } });
const taxonomy = await client.readResource({ uri: "memcollab://taxonomy" });
console.log(JSON.stringify({
  server: client.getServerVersion(),
  tools,
  submitted: submitted.structuredContent,
  match: got.structuredContent?.match,
  refused: { isError: refused.isError, text: refused.content?.[0]?.text },
  taxonomy_bytes: taxonomy.contents?.[0]?.text?.length ?? 0,
}));
await client.close();
