// Public library entry point. Sub-paths (`/sql`, `/emulators`) are the stable API; this index re-exports them.
export * as sql from './sql';
