mod compute;
mod parse;
