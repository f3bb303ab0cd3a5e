// A CDN-like origin in front of s3rver, for the --redirect-downloads cases of test_s3_sync.sh: a
// GET (its query, the presigned signature, passed on) is fetched whole from the bucket, then Range
// and If-Range are answered here as Amazon S3 answers them and s3rver 3.7 does not: If-Range is
// compared with the object's own ETag (an MD5) and a mismatch sends the whole object, 200. One line
// per request on stdout: the path, the Range and If-Range received, whether it was signed, the status.
// Usage: node origin.js PORT UPSTREAM_URL (PORT 0: any free port; the first line says which).
'use strict';
const http = require('http');
const [listenPort, upstream] = process.argv.slice(2);
const up = new URL(upstream);

http.createServer((req, res) => {
  const range = req.headers.range, ifRange = req.headers['if-range'];
  const log = (status) => console.log(`${req.method} ${req.url.split('?')[0]} range=${range || '-'} ` +
    `if-range=${ifRange || '-'} signed=${/[?&]X-Amz-Signature=/.test(req.url) ? 'yes' : 'no'} -> ${status}`);
  http.get({ host: up.hostname, port: up.port, path: req.url }, (o) => {
    const chunks = [];
    o.on('data', (c) => chunks.push(c));
    o.on('end', () => {
      let body = Buffer.concat(chunks), status = o.statusCode;
      const headers = { 'content-type': o.headers['content-type'] || 'application/octet-stream' };
      if (status === 200 && o.headers.etag !== undefined) {
        headers.etag = o.headers.etag;
        headers['accept-ranges'] = 'bytes';
        const m = range && /^bytes=(\d+)-(\d*)$/.exec(range);
        if (m && (ifRange === undefined || ifRange === o.headers.etag)) {
          const first = Number(m[1]);
          const last = Math.min(m[2] === '' ? body.length - 1 : Number(m[2]), body.length - 1);
          if (first >= body.length) {
            status = 416;
            headers['content-range'] = `bytes */${body.length}`;
            body = Buffer.alloc(0);
          } else {
            status = 206;
            headers['content-range'] = `bytes ${first}-${last}/${body.length}`;
            body = body.subarray(first, last + 1);
          }
        }
      }
      headers['content-length'] = body.length;
      log(status);
      try {
        res.writeHead(status, headers);
        res.end(body);
      } catch (e) { // never take the origin down: say it and answer 502
        console.log(`error: ${e.message}`);
        res.destroy();
      }
    });
  }).on('error', () => { log(502); res.writeHead(502); res.end(); });
}).listen(Number(listenPort), '127.0.0.1', function () {
  console.log(`listening ${this.address().port}`); // port 0: the system's choice, read by the test
});
