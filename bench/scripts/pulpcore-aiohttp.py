"""pulpcore's download loop: Debian's aiohttp, one ClientSession, 64 concurrent, 1 MiB reads, sha256 inline,
temp file + rename -- the shape of pulpcore's HttpDownloader (synchronous writes to a NamedTemporaryFile from the
event loop, digest and size checked at the end). No catalog, no fsync (like raw undici and curl).

usage: /usr/bin/python3 pulpcore-aiohttp.py JOBS OUTDIR     (exits 3 when aiohttp is not installed)
"""

import asyncio
import hashlib
import os
import sys
import tempfile

try:
    import aiohttp
except ImportError:
    print("not available: python3-aiohttp is not installed (apt-get install python3-aiohttp)", file=sys.stderr)
    sys.exit(3)

CONCURRENCY = 64
CHUNK = 1024 * 1024


def read_jobs(path):
    jobs = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            line = line.rstrip("\n")
            if line:
                url, sha256, size, name = line.split("\t")
                jobs.append((url, sha256, int(size), name))
    return jobs


async def fetch_one(session, job, temp_dir, out_dir):
    url, sha256, size, name = job
    writer = tempfile.NamedTemporaryFile(dir=temp_dir, delete=False)
    try:
        async with session.get(url) as response:
            if response.status != 200:
                raise RuntimeError(f"{url}: HTTP {response.status}")
            digest = hashlib.sha256()
            got = 0
            while True:
                chunk = await response.content.read(CHUNK)
                if not chunk:
                    break
                writer.write(chunk)
                digest.update(chunk)
                got += len(chunk)
        writer.close()
        if got != size or digest.hexdigest() != sha256:
            raise RuntimeError(f"{url}: got {got} bytes sha256 {digest.hexdigest()}")
        os.rename(writer.name, os.path.join(out_dir, name))
    except BaseException:
        writer.close()
        os.unlink(writer.name)
        raise


async def main(jobs_path, out_dir):
    jobs = read_jobs(jobs_path)
    temp_dir = os.path.join(out_dir, ".tmp")
    os.makedirs(temp_dir, exist_ok=True)
    queue = iter(jobs)
    connector = aiohttp.TCPConnector(limit=CONCURRENCY, limit_per_host=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker():
            for job in queue:
                await fetch_one(session, job, temp_dir, out_dir)

        await asyncio.gather(*(worker() for _ in range(min(CONCURRENCY, len(jobs)))))
    print(f"pulpcore-aiohttp: {len(jobs)} files verified")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("usage: pulpcore-aiohttp.py JOBS OUTDIR", file=sys.stderr)
        sys.exit(2)
    asyncio.run(main(sys.argv[1], sys.argv[2]))
