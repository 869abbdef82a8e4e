import { run } from "./lib.mjs"; await run(async () => {});
