"""A small polyglot monorepo for service-map tests, and the map kb should find in it.

`build_polyglot_monorepo(path)` writes the repository into `path` and commits it in four
commits at fixed times (same input, same commit hashes). `EXPECTED_MAP` is what
`kb map --format json` should print after `kb ingest git PATH --name polyglot-shop`
(evidence lines are computed from the files written here, so they stay right when a file
changes).

Seven services in five languages, spelled differently in different places on purpose:

| service | folder | language | other spellings |
| --- | --- | --- | --- |
| gateway | services/gateway | Go | |
| orders | services/orders | Python | orders-service (compose, URLs, Helm) |
| payment | services/payment | Go | PaymentService (proto), payment-svc (catalog) |
| shipping | services/shipping | Kotlin | shipping_service (compose) |
| notifications | services/notifications | Node.js | notification-service (catalog) |
| checkout | services/checkout | C# | checkoutservice (compose), checkout-service (k8s, catalog) |
| inventory | services/inventory | Python | inventory-service (compose, URLs) |

Edges: gateway -> orders and gateway -> checkout over HTTP (ORDERS_URL, CHECKOUT_URL);
orders -> payment over gRPC (PaymentService, payment:50051); orders -> shipping and
orders -> notifications through Kafka (order.placed); checkout -> inventory over
HttpClient (INVENTORY_URL); orders and inventory share the Postgres database `shop` and its
tables orders and stock; orders and inventory use the internal library libs/shopcommon.

Infrastructure: kafka, postgres, redis, nginx (in front of the gateway), otel-collector,
locust (built from ./load like a service). Planted bad input (BAD_INPUT): an unparseable
YAML manifest, an unparseable .proto, and a generated API client over 1 MB that names the
orders service (no edge may come from it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gitrepo import Repo

REPO_NAME = "polyglot-shop"
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
PEOPLE = {
    "ana": ("Ana Lima", "ana.lima@polyglot.example"),
    "kofi": ("Kofi Mensah", "kofi.mensah@polyglot.example"),
    "lena": ("Lena Vogel", "lena.vogel@polyglot.example"),
}

# ----------------------------------------------------------------------------- services

GATEWAY = {
    "services/gateway/go.mod": """\
module example.com/polyglot/gateway

go 1.22

require github.com/redis/go-redis/v9 v9.5.1
""",
    "services/gateway/main.go": """\
package main

import (
	"io"
	"log"
	"net/http"
	"os"

	"github.com/redis/go-redis/v9"
)

// The gateway is the only public entry point; nginx sits in front of it.
func main() {
	ordersURL := os.Getenv("ORDERS_URL")
	checkoutURL := os.Getenv("CHECKOUT_URL")
	sessions := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
	defer sessions.Close()

	http.HandleFunc("/api/orders", func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Post(ordersURL+"/orders", "application/json", r.Body)
		relay(w, resp, err)
	})
	http.HandleFunc("/api/checkout", func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Post(checkoutURL+"/checkout", "application/json", r.Body)
		relay(w, resp, err)
	})
	log.Fatal(http.ListenAndServe(":8080", nil))
}

func relay(w http.ResponseWriter, resp *http.Response, err error) {
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}
""",
    "services/gateway/Dockerfile": """\
FROM golang:1.22 AS build
WORKDIR /src
COPY . .
RUN go build -o /gateway .
FROM gcr.io/distroless/base
COPY --from=build /gateway /gateway
ENTRYPOINT ["/gateway"]
""",
}

ORDERS = {
    "services/orders/pyproject.toml": """\
[project]
name = "orders-service"
version = "1.4.0"
dependencies = ["flask>=3", "kafka-python>=2", "grpcio>=1.60", "shopcommon"]

[tool.uv.sources]
shopcommon = { path = "../../libs/shopcommon" }
""",
    "services/orders/orders/__init__.py": "",
    "services/orders/orders/app.py": """\
import json
import os

import grpc
from flask import Flask, request
from kafka import KafkaProducer
from shopcommon.db import connect

from orders import payment_pb2, payment_pb2_grpc

app = Flask(__name__)
producer = KafkaProducer(bootstrap_servers=os.environ["KAFKA_BROKERS"])
channel = grpc.insecure_channel(os.environ.get("PAYMENT_ADDR", "payment:50051"))
payments = payment_pb2_grpc.PaymentServiceStub(channel)


@app.post("/orders")
def place_order():
    order = request.get_json()
    with connect(os.environ["DATABASE_URL"]) as db:
        stock = db.execute("SELECT quantity FROM stock WHERE sku = %s", (order["sku"],))
        if stock.fetchone()[0] < order["quantity"]:
            return {"status": "out of stock"}, 409
        db.execute(
            "INSERT INTO orders (sku, quantity, amount) VALUES (%s, %s, %s)",
            (order["sku"], order["quantity"], order["amount"]),
        )
    payments.Charge(payment_pb2.ChargeRequest(amount=order["amount"]))
    # Shipping and notifications react to this event; orders never calls them directly.
    producer.send("order.placed", json.dumps(order).encode())
    return {"status": "placed"}
""",
    "services/orders/orders/payment_pb2.py": """\
# Generated by the protocol buffer compiler.  DO NOT EDIT!
# source: payment.proto
from google.protobuf import descriptor_pool

DESCRIPTOR = descriptor_pool.Default().AddSerializedFile(b"payment.proto")
""",
    "services/orders/orders/payment_pb2_grpc.py": """\
# Generated by the gRPC Python protocol compiler plugin. DO NOT EDIT!
import grpc


class PaymentServiceStub:
    def __init__(self, channel: grpc.Channel):
        self.Charge = channel.unary_unary("/payment.PaymentService/Charge")
""",
    "services/orders/Dockerfile": """\
FROM python:3.12-slim
WORKDIR /app
COPY . .
RUN pip install .
CMD ["flask", "--app", "orders.app", "run", "--host", "0.0.0.0", "--port", "8000"]
""",
}

PAYMENT = {
    "services/payment/go.mod": """\
module example.com/polyglot/payment

go 1.22

require google.golang.org/grpc v1.63.2
""",
    "services/payment/main.go": """\
package main

import (
	"context"
	"log"
	"net"

	pb "example.com/polyglot/payment/gen"
	"google.golang.org/grpc"
)

type server struct {
	pb.UnimplementedPaymentServiceServer
}

func (s *server) Charge(ctx context.Context, req *pb.ChargeRequest) (*pb.ChargeResponse, error) {
	return &pb.ChargeResponse{TransactionId: "tx-1"}, nil
}

func main() {
	lis, err := net.Listen("tcp", ":50051")
	if err != nil {
		log.Fatal(err)
	}
	s := grpc.NewServer()
	pb.RegisterPaymentServiceServer(s, &server{})
	log.Fatal(s.Serve(lis))
}
""",
    "services/payment/Dockerfile": """\
FROM golang:1.22 AS build
WORKDIR /src
COPY . .
RUN go build -o /payment .
FROM gcr.io/distroless/base
COPY --from=build /payment /payment
EXPOSE 50051
ENTRYPOINT ["/payment"]
""",
    "proto/payment.proto": """\
syntax = "proto3";

package payment;

option go_package = "example.com/polyglot/payment/gen";

service PaymentService {
  rpc Charge(ChargeRequest) returns (ChargeResponse);
}

message ChargeRequest {
  int64 amount = 1;
}

message ChargeResponse {
  string transaction_id = 1;
}
""",
}

SHIPPING = {
    "services/shipping/build.gradle.kts": """\
plugins {
    kotlin("jvm") version "1.9.23"
    application
}

dependencies {
    implementation("org.apache.kafka:kafka-clients:3.7.0")
}

application {
    mainClass.set("shop.shipping.MainKt")
}
""",
    "services/shipping/src/main/kotlin/shop/shipping/Main.kt": """\
package shop.shipping

import java.time.Duration
import java.util.Properties
import org.apache.kafka.clients.consumer.KafkaConsumer

fun main() {
    val props = Properties()
    props["bootstrap.servers"] = System.getenv("KAFKA_BROKERS") ?: "kafka:9092"
    props["group.id"] = "shipping"
    props["key.deserializer"] = "org.apache.kafka.common.serialization.StringDeserializer"
    props["value.deserializer"] = "org.apache.kafka.common.serialization.StringDeserializer"
    val consumer = KafkaConsumer<String, String>(props)
    consumer.subscribe(listOf("order.placed"))
    while (true) {
        for (record in consumer.poll(Duration.ofSeconds(1))) {
            println("shipping order ${record.value()}")
        }
    }
}
""",
    "services/shipping/Dockerfile": """\
FROM gradle:8.7-jdk21 AS build
WORKDIR /src
COPY . .
RUN gradle installDist
FROM eclipse-temurin:21-jre
COPY --from=build /src/build/install/shipping /opt/shipping
ENTRYPOINT ["/opt/shipping/bin/shipping"]
""",
}


def _huge_generated_client() -> str:
    """An OpenAPI-generated TypeScript client over 1 MB that names the orders service."""
    head = (
        "// Code generated by openapi-generator. DO NOT EDIT.\n"
        "// Orders API client, regenerated from the orders-service OpenAPI document.\n"
        "export const BASE_PATH = 'http://orders-service:8000';\n\n"
    )
    op = (
        "export async function getOrder{i}(id: string): Promise<Response> {{\n"
        "  return fetch(`${{BASE_PATH}}/orders/${{id}}?page={i}`, {{ method: 'GET' }});\n"
        "}}\n\n"
    )
    return head + "".join(op.format(i=i) for i in range(9000))


NOTIFICATIONS = {
    "services/notifications/package.json": """\
{
  "name": "notifications",
  "version": "2.1.0",
  "private": true,
  "main": "src/index.js",
  "dependencies": {
    "kafkajs": "^2.2.4"
  }
}
""",
    "services/notifications/src/index.js": """\
const { Kafka } = require('kafkajs');

const kafka = new Kafka({ clientId: 'notifications', brokers: [process.env.KAFKA_BROKERS] });
const consumer = kafka.consumer({ groupId: 'notifications' });

async function run() {
  await consumer.connect();
  await consumer.subscribe({ topic: 'order.placed', fromBeginning: false });
  await consumer.run({
    eachMessage: async ({ message }) => {
      console.log(`emailing customer about ${message.value}`);
    },
  });
}

run().catch((err) => {
  console.error(err);
  process.exit(1);
});
""",
    "services/notifications/Dockerfile": """\
FROM node:20-slim
WORKDIR /app
COPY package.json .
RUN npm install --omit=dev
COPY src ./src
CMD ["node", "src/index.js"]
""",
}

CHECKOUT = {
    "services/checkout/Checkout.csproj": """\
<Project Sdk="Microsoft.NET.Sdk.Web">
  <PropertyGroup>
    <TargetFramework>net8.0</TargetFramework>
    <Nullable>enable</Nullable>
  </PropertyGroup>
</Project>
""",
    "services/checkout/Program.cs": """\
var builder = WebApplication.CreateBuilder(args);

var inventoryUrl = Environment.GetEnvironmentVariable("INVENTORY_URL") ?? "http://inventory-service:8080";
builder.Services.AddHttpClient("inventory", client => client.BaseAddress = new Uri(inventoryUrl));

var app = builder.Build();

app.MapPost("/checkout", async (IHttpClientFactory factory, CheckoutRequest request) =>
{
    var inventory = factory.CreateClient("inventory");
    var reserved = await inventory.PostAsJsonAsync("/reserve", request);
    return reserved.IsSuccessStatusCode ? Results.Ok() : Results.Conflict();
});

app.Run();

record CheckoutRequest(string Sku, int Quantity);
""",
    "services/checkout/Dockerfile": """\
FROM mcr.microsoft.com/dotnet/sdk:8.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish -c Release -o /app
FROM mcr.microsoft.com/dotnet/aspnet:8.0
COPY --from=build /app /app
ENTRYPOINT ["dotnet", "/app/Checkout.dll"]
""",
}

INVENTORY = {
    "services/inventory/pyproject.toml": """\
[project]
name = "inventory-service"
version = "0.9.2"
dependencies = ["fastapi>=0.110", "uvicorn>=0.29", "shopcommon"]

[tool.uv.sources]
shopcommon = { path = "../../libs/shopcommon" }
""",
    "services/inventory/inventory/__init__.py": "",
    "services/inventory/inventory/main.py": """\
import os

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel
from shopcommon.db import connect

app = FastAPI()
DATABASE_URL = os.environ["DATABASE_URL"]


class Reservation(BaseModel):
    sku: str
    quantity: int


@app.post("/reserve")
def reserve(r: Reservation):
    with connect(DATABASE_URL) as db:
        cur = db.execute(
            "UPDATE stock SET quantity = quantity - %s WHERE sku = %s AND quantity >= %s",
            (r.quantity, r.sku, r.quantity),
        )
        if cur.rowcount == 0:
            raise HTTPException(409, "not enough stock")
    return {"reserved": r.quantity}


@app.get("/report")
def report():
    # Reads the orders table that the orders service writes: the two share the database.
    with connect(DATABASE_URL) as db:
        return {"orders": db.execute("SELECT count(*) FROM orders").fetchone()[0]}
""",
    "services/inventory/Dockerfile": """\
FROM python:3.12-slim
WORKDIR /app
COPY . .
RUN pip install .
CMD ["uvicorn", "inventory.main:app", "--host", "0.0.0.0", "--port", "8080"]
""",
}

SHOPCOMMON = {
    "libs/shopcommon/pyproject.toml": """\
[project]
name = "shopcommon"
version = "0.3.0"
dependencies = ["psycopg[binary]>=3.1"]
""",
    "libs/shopcommon/shopcommon/__init__.py": '"""Code shared by the Python services."""\n',
    "libs/shopcommon/shopcommon/db.py": """\
import psycopg


def connect(url: str) -> psycopg.Connection:
    \"\"\"One connection to the shop database, committed on success.\"\"\"
    return psycopg.connect(url, autocommit=False)
""",
}

# ----------------------------------------------------------------------------- deployment

COMPOSE = """\
services:
  nginx:
    image: nginx:1.27
    volumes:
      - ./nginx/nginx.conf:/etc/nginx/nginx.conf:ro
    ports:
      - "80:80"
    depends_on: [gateway]

  gateway:
    build:
      context: ./services/gateway
    environment:
      ORDERS_URL: http://orders-service:8000
      CHECKOUT_URL: http://checkoutservice:8080
      REDIS_ADDR: redis:6379
      OTEL_EXPORTER_OTLP_ENDPOINT: http://otel-collector:4317
    depends_on: [redis, orders-service, checkoutservice]

  orders-service:
    build:
      context: ./services/orders
    environment:
      KAFKA_BROKERS: kafka:9092
      PAYMENT_ADDR: payment:50051
      DATABASE_URL: postgresql://shop:shop@postgres:5432/shop
      OTEL_EXPORTER_OTLP_ENDPOINT: http://otel-collector:4317
    depends_on: [kafka, postgres, payment]

  payment:
    build:
      context: ./services/payment
    environment:
      OTEL_EXPORTER_OTLP_ENDPOINT: http://otel-collector:4317

  shipping_service:
    build:
      context: ./services/shipping
    environment:
      KAFKA_BROKERS: kafka:9092
    depends_on: [kafka]

  notifications:
    build:
      context: ./services/notifications
    environment:
      KAFKA_BROKERS: kafka:9092
    depends_on: [kafka]

  checkoutservice:
    build:
      context: ./services/checkout
    environment:
      INVENTORY_URL: http://inventory-service:8080
    depends_on: [inventory-service]

  inventory-service:
    build:
      context: ./services/inventory
    environment:
      DATABASE_URL: postgresql://shop:shop@postgres:5432/shop
    depends_on: [postgres]

  kafka:
    image: bitnami/kafka:3.7
    environment:
      KAFKA_CFG_PROCESS_ROLES: broker,controller
      KAFKA_CFG_NODE_ID: "1"

  postgres:
    image: postgres:16
    environment:
      POSTGRES_DB: shop
      POSTGRES_USER: shop
      POSTGRES_PASSWORD: shop

  redis:
    image: redis:7-alpine

  otel-collector:
    image: otel/opentelemetry-collector-contrib:0.100.0
    volumes:
      - ./otel/config.yaml:/etc/otelcol-contrib/config.yaml:ro

  locust:
    build:
      context: ./load
    command: -f /mnt/locustfile.py --host http://nginx
    depends_on: [nginx]
"""

DEPLOY = {
    "docker-compose.yml": COMPOSE,
    "nginx/nginx.conf": """\
events {}
http {
  server {
    listen 80;
    location / {
      proxy_pass http://gateway:8080;
    }
  }
}
""",
    "otel/config.yaml": """\
receivers:
  otlp:
    protocols:
      grpc:
exporters:
  debug:
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
""",
    "load/Dockerfile": """\
FROM locustio/locust:2.24.1
COPY locustfile.py /mnt/locustfile.py
""",
    "load/locustfile.py": """\
from locust import HttpUser, between, task


class Shopper(HttpUser):
    wait_time = between(1, 3)

    @task
    def buy(self):
        self.client.post("/api/orders", json={"sku": "SOCK-1", "quantity": 1, "amount": 900})
""",
    "deploy/k8s/checkout-service.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: checkout-service
  labels:
    app: checkout-service
spec:
  replicas: 2
  selector:
    matchLabels:
      app: checkout-service
  template:
    metadata:
      labels:
        app: checkout-service
    spec:
      containers:
        - name: checkout
          image: registry.polyglot.example/checkout:1.0.0
          env:
            - name: INVENTORY_URL
              value: http://inventory-service:8080
          ports:
            - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: checkout-service
spec:
  selector:
    app: checkout-service
  ports:
    - port: 8080
""",
    "deploy/helm/orders/Chart.yaml": """\
apiVersion: v2
name: orders-service
description: The orders service
version: 1.4.0
""",
    "deploy/helm/orders/values.yaml": """\
replicaCount: 2
image:
  repository: registry.polyglot.example/orders
  tag: 1.4.0
payment:
  host: payment
  port: 50051
kafka:
  brokers: kafka:9092
  topic: order.placed
database:
  url: postgresql://shop:shop@postgres:5432/shop
""",
    "deploy/helm/orders/templates/deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Chart.Name }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels:
      app: {{ .Chart.Name }}
  template:
    metadata:
      labels:
        app: {{ .Chart.Name }}
    spec:
      containers:
        - name: orders
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          env:
            - name: PAYMENT_ADDR
              value: "{{ .Values.payment.host }}:{{ .Values.payment.port }}"
            - name: KAFKA_BROKERS
              value: {{ .Values.kafka.brokers | quote }}
            - name: DATABASE_URL
              value: {{ .Values.database.url | quote }}
""",
    "catalog-info.yaml": """\
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: polyglot-shop
spec:
  owner: team-platform
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: gateway
spec:
  type: service
  lifecycle: production
  owner: team-edge
  system: polyglot-shop
  dependsOn:
    - component:orders-service
    - component:checkout-service
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: orders-service
  annotations:
    backstage.io/source-location: url:./services/orders
spec:
  type: service
  lifecycle: production
  owner: team-orders
  system: polyglot-shop
  dependsOn:
    - component:payment-svc
    - resource:shop-db
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payment-svc
spec:
  type: service
  lifecycle: production
  owner: team-payments
  system: polyglot-shop
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: shipping
spec:
  type: service
  lifecycle: production
  owner: team-logistics
  system: polyglot-shop
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: notification-service
  annotations:
    backstage.io/source-location: url:./services/notifications
spec:
  type: service
  lifecycle: experimental
  owner: team-comms
  system: polyglot-shop
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: checkout-service
spec:
  type: service
  lifecycle: production
  owner: team-payments
  system: polyglot-shop
  dependsOn:
    - component:inventory-service
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: inventory-service
spec:
  type: service
  lifecycle: production
  owner: team-orders
  system: polyglot-shop
  dependsOn:
    - resource:shop-db
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: shop-db
spec:
  type: database
  owner: team-orders
  system: polyglot-shop
""",
    "README.md": """\
# Polyglot shop

## Architecture

The gateway (Go) is the public API behind nginx. It calls the orders service (Python) and
the checkout service (C#) over HTTP. Orders charges the payment service (Go) over gRPC
(`PaymentService` in proto/payment.proto) and publishes `order.placed` to Kafka; shipping
(Kotlin) and notifications (Node.js) consume it. Checkout reserves stock in the inventory
service (Python) over HTTP. Orders and inventory share the `shop` Postgres database and the
`libs/shopcommon` package. Redis holds the gateway's sessions.
""",
}

# ----------------------------------------------------------------------------- bad input

BAD_INPUT = {
    "deploy/k8s/broken.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: legacy-reporting
  labels: {app: legacy-reporting
spec:
	replicas: 1
    template: [unclosed
""",
    "proto/legacy/broken.proto": """\
syntax = "proto3";

package legacy;

service ReportingService {
  rpc Export(ExportRequest) returns (ExportResponse
  rpc Import(
}

message ExportRequest {
  string format = 1
""",
    "services/notifications/src/generated/ordersApiClient.ts": _huge_generated_client(),
}

HISTORY: list[tuple[str, str, dict[str, str | None]]] = [
    ("ana", "Gateway, orders and payment: the first slice of the shop",
     {**GATEWAY, **ORDERS, **PAYMENT, **SHOPCOMMON}),
    ("kofi", "Ship and notify on order.placed instead of calling from orders",
     {**SHIPPING, **NOTIFICATIONS}),
    ("lena", "Checkout reserves stock in inventory; both Python services share shopcommon",
     {**CHECKOUT, **INVENTORY}),
    ("ana", "Deployment: compose, k8s, the orders Helm chart, catalog; legacy leftovers",
     {**DEPLOY, **BAD_INPUT}),
]  # fmt: skip

FILES: dict[str, str] = {
    path: text for _, _, files in HISTORY for path, text in files.items() if text is not None
}


def build_polyglot_monorepo(path: Path) -> Path:
    """Write the monorepo into `path` (created) and commit its history; returns `path`."""
    repo = Repo(path)
    for who, message, files in HISTORY:
        repo.commit(message, files, author=PEOPLE[who])
    return path


# ----------------------------------------------------------------------------- expectation


def line_of(path: str, needle: str, nth: int = 1) -> int:
    """1-based line of the `nth` line of FILES[path] containing `needle`."""
    hits = [i for i, line in enumerate(FILES[path].splitlines(), 1) if needle in line]
    if len(hits) < nth:
        raise KeyError(f"{needle!r} not {nth} times in {path}")
    return hits[nth - 1]


def _ev(*locations: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"repo": REPO_NAME, "path": p, "line": line_of(p, n)} for p, n in locations]


def _svc(name: str, path: str, owner: str, aliases: list[str]) -> dict[str, Any]:
    return {"name": name, "repo": REPO_NAME, "path": path, "owner": owner, "aliases": aliases}


COMPOSE_PATH = "docker-compose.yml"
ORDERS_APP = "services/orders/orders/app.py"
INVENTORY_MAIN = "services/inventory/inventory/main.py"

EXPECTED_MAP: dict[str, Any] = {
    "services": [
        _svc("gateway", "services/gateway", "team-edge", []),
        _svc("orders", "services/orders", "team-orders", ["orders-service"]),
        _svc("payment", "services/payment", "team-payments", ["PaymentService", "payment-svc"]),
        _svc("shipping", "services/shipping", "team-logistics", ["shipping_service"]),
        _svc("notifications", "services/notifications", "team-comms", ["notification-service"]),
        _svc("checkout", "services/checkout", "team-payments",
             ["checkoutservice", "checkout-service", "Checkout"]),
        _svc("inventory", "services/inventory", "team-orders", ["inventory-service"]),
    ],
    "edges": [
        {"from": "gateway", "to": "orders", "kind": "sync_http", "via": "ORDERS_URL",
         "evidence": _ev(("services/gateway/main.go", 'ordersURL+"/orders"'),
                         (COMPOSE_PATH, "ORDERS_URL:"))},
        {"from": "gateway", "to": "checkout", "kind": "sync_http", "via": "CHECKOUT_URL",
         "evidence": _ev(("services/gateway/main.go", 'checkoutURL+"/checkout"'),
                         (COMPOSE_PATH, "CHECKOUT_URL:"))},
        {"from": "orders", "to": "payment", "kind": "grpc", "via": "PaymentService",
         "evidence": _ev((ORDERS_APP, "PaymentServiceStub(channel)"),
                         (ORDERS_APP, '"payment:50051"'))},
        {"from": "orders", "to": "shipping", "kind": "async_event", "via": "order.placed",
         "evidence": _ev((ORDERS_APP, 'producer.send("order.placed"'),
                         ("services/shipping/src/main/kotlin/shop/shipping/Main.kt",
                          'subscribe(listOf("order.placed"))'))},
        {"from": "orders", "to": "notifications", "kind": "async_event", "via": "order.placed",
         "evidence": _ev((ORDERS_APP, 'producer.send("order.placed"'),
                         ("services/notifications/src/index.js", "topic: 'order.placed'"))},
        {"from": "checkout", "to": "inventory", "kind": "sync_http", "via": "INVENTORY_URL",
         "evidence": _ev(("services/checkout/Program.cs", "INVENTORY_URL"),
                         ("deploy/k8s/checkout-service.yaml", "value: http://inventory-service"))},
        {"from": "orders", "to": "inventory", "kind": "shared_db", "via": "shop (orders, stock)",
         "evidence": _ev((ORDERS_APP, "INSERT INTO orders"),
                         (INVENTORY_MAIN, "SELECT count(*) FROM orders"))},
        {"from": "orders", "to": "shopcommon", "kind": "library", "via": "libs/shopcommon",
         "evidence": _ev((ORDERS_APP, "from shopcommon.db import connect"))},
        {"from": "inventory", "to": "shopcommon", "kind": "library", "via": "libs/shopcommon",
         "evidence": _ev((INVENTORY_MAIN, "from shopcommon.db import connect"))},
    ],
    "infrastructure": [
        {"name": "kafka", "kind": "broker"},
        {"name": "postgres", "kind": "database"},
        {"name": "redis", "kind": "cache"},
        {"name": "nginx", "kind": "proxy"},
        {"name": "otel-collector", "kind": "collector"},
        {"name": "locust", "kind": "loadgen"},
    ],
}  # fmt: skip

# The shared_db edge is symmetric: inventory -> orders is the same edge.
SYMMETRIC_KINDS = {"shared_db"}

# Pairs the map must not report as service edges: the generated client is not a caller, the
# proxy and the load generator are infrastructure, and redis is a store, not a service.
FORBIDDEN_EDGES = [
    ("notifications", "orders"),
    ("nginx", "gateway"),
    ("locust", "nginx"),
    ("locust", "gateway"),
    ("gateway", "redis"),
    ("orders", "kafka"),
]

LIBRARIES = [{"name": "shopcommon", "path": "libs/shopcommon"}]
