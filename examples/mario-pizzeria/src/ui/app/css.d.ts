// Stylesheets are imported for their effect: esbuild gathers them into the page's one stylesheet (/ui/app.css).
declare module '*.css';
