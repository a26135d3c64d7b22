#!/usr/bin/env node
// Compiles the bundled CLI (dist/cargohold.cjs) with its V8 code cache and runs it: see src/launch/bundleScript.ts
import { runBundle } from "../dist/launch/bundleScript.js"

runBundle()
