"""Mixed HTTP load against invoiced instances, every answer checked.

usage: http_load.py KEY ACCOUNT REQUESTS PORT [PORT ...]

32 clients, each on its own keep-alive connections, spread their requests
over the given instances: create a customer, create an invoice, issue it,
pay part of it, read it back (its amount_paid must be what was paid), list
invoices. Prints the status counts and a JSON summary on the last line (what
was created, for the caller to check against the database); exit 1 on any
5xx, any unexpected status or any wrong answer.
"""

import collections
import http.client
import json
import random
import sys
import threading
import time

KEY, ACCOUNT, TOTAL = sys.argv[1], sys.argv[2], int(sys.argv[3])
PORTS = [int(p) for p in sys.argv[4:]]
CLIENTS = 32

lock = threading.Lock()
codes = collections.Counter()
problems = []
created = {"customers": 0, "invoices": 0, "issued": 0, "payments": 0}


def client(seed, budget):
    rnd = random.Random(seed)
    conns = {p: http.client.HTTPConnection("127.0.0.1", p, timeout=30) for p in PORTS}
    headers = {
        "X-Account-Id": ACCOUNT,
        "Authorization": "Bearer " + KEY,
        "Content-Type": "application/json",
    }
    sent = 0
    last_used = {p: time.monotonic() for p in PORTS}

    def call(method, path, expect, body=None):
        nonlocal sent
        sent += 1
        port = rnd.choice(PORTS)
        conn = conns[port]
        # The service closes a keep-alive connection after 5 s idle; one
        # reused just as it does so fails without the request ever being
        # read. Reconnect before that instead (any other dropped
        # connection still fails the run).
        if time.monotonic() - last_used[port] > 4.0:
            conn.close()
        conn.request(method, path, None if body is None else json.dumps(body), headers)
        response = conn.getresponse()
        data = response.read()
        last_used[port] = time.monotonic()
        with lock:
            codes[response.status] += 1
            if response.status != expect:
                problems.append(f"{method} {path}: {response.status} {data[:200]!r}")
        return json.loads(data) if response.status == expect and data else None

    while sent < budget:
        customer = call("POST", "/v1/customers", 201,
                        {"name": f"Load {seed}-{sent}", "billing_address": {"country": "DE"}})
        if customer is None:
            continue
        invoice = call("POST", "/v1/invoices", 201, {
            "customer_id": customer["id"], "currency": "EUR",
            "items": [{"description": "Work", "quantity": "2", "unit_price": "10.00", "tax_rate": "19"}],
        })
        if invoice is None:
            continue
        issued = call("POST", f"/v1/invoices/{invoice['id']}/issue", 200)
        paid = call("POST", f"/v1/invoices/{invoice['id']}/payments", 201,
                    {"amount": "5.00", "method": "card"})
        read = call("GET", f"/v1/invoices/{invoice['id']}", 200)
        call("GET", "/v1/invoices?limit=5", 200)
        with lock:
            created["customers"] += 1
            created["invoices"] += 1
            created["issued"] += issued is not None
            created["payments"] += paid is not None
            if read is not None and (read["amount_paid"], read["balance_due"], read["status"]) != (
                "5.00" if paid else "0.00", "18.80" if paid else "23.80", "issued"):
                problems.append(f"invoice {invoice['id']} reads back {read}")


threads = [threading.Thread(target=client, args=(n, TOTAL // CLIENTS + 1)) for n in range(CLIENTS)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print("statuses:", dict(sorted(codes.items())))
for problem in problems[:10]:
    print("problem:", problem)
print(json.dumps({"requests": sum(codes.values()), "problems": len(problems), **created}))
sys.exit(1 if problems else 0)
