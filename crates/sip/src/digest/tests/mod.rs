mod build;
mod compute;
mod parse;
