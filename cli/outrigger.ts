#!/usr/bin/env node
/** The `outrigger` command (plain Node entry; the images run the startup snapshot of the same main). */

import { main } from './main.js';

main(process.argv.slice(2));
