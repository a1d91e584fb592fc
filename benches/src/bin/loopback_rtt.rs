//! Loopback TCP round-trip time: the network floor under every cluster number.
//!
//! An echo thread and a client on 127.0.0.1 exchange a small message (default 64 bytes, about
//! the size of one Synod peer frame) over one TCP connection with `TCP_NODELAY`, one at a time.
//! Prints p50 / p90 / p99 of the round trip.
//!
//! Usage: `loopback_rtt [ROUND_TRIPS] [MESSAGE_BYTES]` (defaults 20000 and 64).

use anyhow::{Context, Result};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Instant;
use synod_benches::percentiles::Summary;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let round_trips: usize = args.next().map_or(Ok(20_000), |a| a.parse())?;
    let size: usize = args.next().map_or(Ok(64), |a| a.parse())?;
    anyhow::ensure!(size > 0 && round_trips > 0, "counts must be positive");

    let listener = TcpListener::bind("127.0.0.1:0").context("bind 127.0.0.1")?;
    let addr = listener.local_addr()?;
    let echo = thread::spawn(move || -> Result<()> {
        let (mut stream, _) = listener.accept()?;
        stream.set_nodelay(true)?;
        let mut buf = vec![0u8; size];
        loop {
            match stream.read_exact(&mut buf) {
                Ok(()) => stream.write_all(&buf)?,
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
    });

    let mut stream = TcpStream::connect(addr).context("connect to the echo thread")?;
    stream.set_nodelay(true)?;
    let message = vec![7u8; size];
    let mut reply = vec![0u8; size];
    let warmup = round_trips / 10;
    let mut samples = Vec::with_capacity(round_trips);
    for i in 0..warmup + round_trips {
        let start = Instant::now();
        stream.write_all(&message)?;
        stream.read_exact(&mut reply)?;
        if i >= warmup {
            samples.push(start.elapsed());
        }
    }
    drop(stream);
    echo.join()
        .map_err(|_| anyhow::anyhow!("echo thread panicked"))??;

    let summary = Summary::of(&mut samples).context("no samples")?;
    println!("loopback TCP round trip ({size} B, TCP_NODELAY): {summary}");
    Ok(())
}
