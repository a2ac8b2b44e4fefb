#!/usr/bin/env python3
"""A straightforward Python exporter, the baseline faceexport's CPU per face is compared with.

Threads, urllib, json and gzip from the standard library, doing the job faceexport does: sign every
call (FinAuth HMAC-SHA1), list every library (group_list), page through each (get_size, then list
from start=1 with limit 1000 until the count is reached or a page is empty) and write one NDJSON.gz of
the same columns at the same gzip level. No retries, no pacing: the best case for the baseline.

    FACESEARCH_API_KEY=… FACESEARCH_API_SECRET=… /usr/bin/time -v \\
        python3 samples/baseline/python_exporter.py --endpoint http://127.0.0.1:8080 --out /tmp/faces.ndjson.gz
"""
import argparse, base64, concurrent.futures, datetime, gzip, hashlib, hmac, json, os, random, threading, time, urllib.request, uuid


def sign(key, secret):
    now = int(time.time())
    raw = f"a={key}&b={now + 100}&c={now}&d={random.randrange(10**10):010d}".encode()
    return base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha1).digest() + raw).decode()


def call(endpoint, key, secret, name, **fields):
    boundary = uuid.uuid4().hex
    fields = {"sign": sign(key, secret), "sign_version": "hmac_sha1", **{k: str(v) for k, v in fields.items()}}
    body = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items())
    body += f"--{boundary}--\r\n"
    request = urllib.request.Request(
        f"{endpoint}/finauth/search/group/{name}", data=body.encode(), method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def add_time_ms(value):
    if isinstance(value, (int, float)):
        return int(value)
    if value.isdigit():
        return int(value)
    return int(datetime.datetime.fromisoformat(value).timestamp() * 1000)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--level", type=int, default=6)
    args = parser.parse_args()
    key, secret = os.environ["FACESEARCH_API_KEY"], os.environ["FACESEARCH_API_SECRET"]
    groups = [g["group_id"] for g in call(args.endpoint, key, secret, "group_list")["group_infos"]]
    lock = threading.Lock()
    out = gzip.open(args.out, "wt", encoding="utf-8", compresslevel=args.level)

    def export(group):
        size = call(args.endpoint, key, secret, "get_size", group_id=group)["face_count"]
        start, lines = 1, []
        while True:
            faces = call(args.endpoint, key, secret, "list", group_id=group, start=start, limit=1000)["face_tokens"]
            if not faces:
                break
            for face in faces:
                ms = add_time_ms(face["add_time"])
                utc = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
                lines.append(json.dumps({"group_id": group, "face_token": face["face_token"], "user_id": face.get("user_id", ""),
                                         "user_data": face.get("user_data", ""), "add_time": ms, "add_time_utc": utc},
                                        ensure_ascii=False, separators=(",", ":")) + "\n")
            start += len(faces)
            if start - 1 >= size:
                break
        with lock:
            out.writelines(lines)
        return len(lines)

    with concurrent.futures.ThreadPoolExecutor(args.threads) as pool:
        total = sum(pool.map(export, groups))
    out.close()
    print(f"{total} faces from {len(groups)} libraries")


if __name__ == "__main__":
    main()
