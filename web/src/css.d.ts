// esbuild bundles imported stylesheets into assets/main.css.
declare module '*.css';
