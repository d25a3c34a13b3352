//! A Lua script defined once and run either alone (`EVALSHA`, loading it on `NOSCRIPT`)
//! or as one command of a pipeline, with the same keys and arguments either way.

use redis::{Cmd, FromRedisValue, Script, ToRedisArgs};

use crate::conn::RedisConnection;
use crate::QueueResult;

/// A script's source and its hash.
pub(crate) struct LuaScript {
    source: &'static str,
    script: Script,
}

impl LuaScript {
    pub(crate) fn new(source: &'static str) -> Self {
        Self { source, script: Script::new(source) }
    }

    /// An invocation of this script, with no keys or arguments yet.
    pub(crate) fn call(&self) -> Invocation<'_> {
        Invocation { script: self, keys: Vec::new(), args: Vec::new() }
    }
}

/// The script with its keys and arguments.
pub(crate) struct Invocation<'s> {
    script: &'s LuaScript,
    keys: Vec<Vec<u8>>,
    args: Vec<Vec<u8>>,
}

impl Invocation<'_> {
    pub(crate) fn key(mut self, key: impl ToRedisArgs) -> Self {
        self.keys.extend(key.to_redis_args());
        self
    }

    pub(crate) fn arg(mut self, arg: impl ToRedisArgs) -> Self {
        self.args.extend(arg.to_redis_args());
        self
    }

    /// Runs it alone; the client loads the script when the server answers `NOSCRIPT`.
    pub(crate) async fn run<T: FromRedisValue>(&self, conn: &RedisConnection) -> QueueResult<T> {
        let mut invocation = self.script.script.prepare_invoke();
        for key in &self.keys {
            invocation.key(key.as_slice());
        }
        for arg in &self.args {
            invocation.arg(arg.as_slice());
        }
        Ok(invocation.invoke_async(&mut conn.clone()).await?)
    }

    /// The command for a pipeline, where the client cannot load the script on
    /// `NOSCRIPT`: `EVALSHA <hash>` when `by_hash`, else `EVAL <source>`.
    pub(crate) fn command(&self, by_hash: bool) -> Cmd {
        let mut cmd = if by_hash { redis::cmd("EVALSHA") } else { redis::cmd("EVAL") };
        if by_hash {
            cmd.arg(self.script.script.get_hash());
        } else {
            cmd.arg(self.script.source);
        }
        cmd.arg(self.keys.len());
        for key in &self.keys {
            cmd.arg(key.as_slice());
        }
        for arg in &self.args {
            cmd.arg(arg.as_slice());
        }
        cmd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipelined_call_names_the_script_then_its_keys_then_its_arguments() {
        let script = LuaScript::new("return 1");
        let call = script.call().key("k1").key("k2").arg("a").arg(7);
        let packed = |cmd: Cmd| String::from_utf8_lossy(&cmd.get_packed_command()).into_owned();
        let by_hash = packed(call.command(true));
        assert!(by_hash.contains("EVALSHA") && by_hash.contains(script.script.get_hash()), "{by_hash}");
        let by_source = packed(call.command(false));
        assert!(by_source.contains("EVAL") && by_source.contains("return 1"), "{by_source}");
        // numkeys 2, then k1, k2, a, 7 in order.
        let tail = "$1\r\n2\r\n$2\r\nk1\r\n$2\r\nk2\r\n$1\r\na\r\n$1\r\n7\r\n";
        assert!(by_hash.ends_with(tail) && by_source.ends_with(tail), "{by_hash}");
    }
}
