#!/usr/bin/env node
// The `alpamayo-trt` executable; all logic is in runCli.ts so tests can drive it in-process.
import { runCli } from './runCli.js';

runCli(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
