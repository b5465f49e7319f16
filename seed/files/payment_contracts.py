"""payment-service contracts and ownership files: OpenAPI, AsyncAPI, CODEOWNERS, Backstage."""

from __future__ import annotations

ASYNCAPI = """asyncapi: 2.6.0
info:
  title: payment-service events
  version: 1.0.0
  description: >
    payment-service consumes payment requests from order-service and publishes the
    outcome. order-service, notification-service and analytics-service consume it.
defaultContentType: application/json
servers:
  production:
    url: kafka-1.prod.shopfast.internal:9092
    protocol: kafka
channels:
  order.payment_requested:
    description: Consumed. Published by order-service when an order needs payment.
    publish:
      operationId: onPaymentRequested
      message:
        $ref: '#/components/messages/PaymentRequested'
  payment.completed:
    description: Published once per payment_request_id when the charge succeeded.
    subscribe:
      operationId: publishPaymentCompleted
      message:
        $ref: '#/components/messages/PaymentCompleted'
  payment.failed:
    description: Published when the provider declined or the request was invalid.
    subscribe:
      operationId: publishPaymentFailed
      message:
        $ref: '#/components/messages/PaymentFailed'
components:
  messages:
    PaymentRequested:
      payload:
        type: object
        required: [order_id, customer_id, payment_request_id, amount_minor, currency]
        properties:
          order_id: {type: string}
          customer_id: {type: string}
          payment_request_id: {type: string, format: uuid}
          amount_minor: {type: integer}
          currency: {type: string}
          customer_ref: {type: string}
    PaymentCompleted:
      payload:
        type: object
        required: [order_id, customer_id, payment_request_id, payment_id, amount_minor, currency]
        properties:
          order_id: {type: string}
          customer_id: {type: string}
          payment_request_id: {type: string, format: uuid}
          payment_id: {type: string}
          amount_minor: {type: integer}
          currency: {type: string}
    PaymentFailed:
      payload:
        type: object
        required: [order_id, customer_id, payment_request_id, reason]
        properties:
          order_id: {type: string}
          customer_id: {type: string}
          payment_request_id: {type: string, format: uuid}
          reason: {type: string}
"""

OPENAPI = """openapi: 3.0.3
info:
  title: payment-service
  version: 1.0.0
  description: Payments and refunds for ShopFast orders.
servers:
  - url: http://payment-service:8080
paths:
  /payments:
    post:
      summary: Charge the customer for an order
      operationId: createPayment
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: '#/components/schemas/PaymentRequest'}
      responses:
        '201':
          description: Captured
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Payment'}
        '402': {description: Declined by the provider}
  /payments/{payment_id}:
    get:
      summary: Get a payment
      operationId: getPayment
      parameters:
        - {name: payment_id, in: path, required: true, schema: {type: string}}
      responses:
        '200':
          description: The payment
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Payment'}
        '404': {description: Unknown payment}
  /payments/{payment_id}/refunds:
    post:
      summary: Refund part or all of a payment
      operationId: createRefund
      parameters:
        - {name: payment_id, in: path, required: true, schema: {type: string}}
        - {name: amount_minor, in: query, required: true, schema: {type: integer}}
      responses:
        '201': {description: Refund created}
components:
  schemas:
    PaymentRequest:
      type: object
      required: [order_id, amount_minor, currency, customer_ref]
      properties:
        order_id: {type: string}
        amount_minor: {type: integer, minimum: 1}
        currency: {type: string, minLength: 3, maxLength: 3}
        customer_ref: {type: string}
    Payment:
      type: object
      properties:
        payment_id: {type: string}
        order_id: {type: string}
        status: {type: string, enum: [captured, refunded, partially_refunded]}
        amount_minor: {type: integer}
        currency: {type: string}
        provider_ref: {type: string}
"""

PAYMENT_METHODS_PATH = """  /customers/{customer_ref}/payment-methods:
    get:
      summary: Saved payment methods for the checkout UI
      operationId: listPaymentMethods
      parameters:
        - {name: customer_ref, in: path, required: true, schema: {type: string}}
      responses:
        '200': {description: Cards on file, newest first}
components:
"""

CODEOWNERS = """# Payments team owns the service; Alex reviews anything that moves money.
*                          @shopfast/payments
src/payment/gateway.py     @alex-morgan
src/payment/settlement.py  @alex-morgan
docs/decisions/            @alex-morgan @shopfast/payments
"""

CATALOG = """apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payment-service
  description: Payments, refunds and settlement reconciliation (Stripe)
  annotations:
    github.com/project-slug: shopfast/payment-service
    pagerduty.com/service-id: PPAY7Q2X
  tags:
    - python
    - payments
spec:
  type: service
  lifecycle: production
  owner: group:payments
  system: checkout
  dependsOn:
    - resource:payments-db
  providesApis:
    - payment-api
    - payment-events
  consumesApis:
    - order-events
"""
