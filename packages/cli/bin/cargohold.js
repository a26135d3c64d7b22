#!/usr/bin/env node
import "../dist/cargohold.js"
