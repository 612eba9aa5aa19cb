"""Every GraphQL document the Shopify connector sends (Admin API 2026-07).

Kept as named constants so tests can validate each one against Shopify's full schema
(tests/connectors/test_shopify_contract.py) and `storeops connectors documents shopify`
can print them. Page sizes are chosen so each query's calculated cost stays under
Shopify's single-query limit of 1000 points (the cost is in each constant's comment).
"""

from __future__ import annotations

MONEY = "shopMoney { amount currencyCode }"

# cost 1
SHOP = """
query Shop {
  shop { id name myshopifyDomain currencyCode ianaTimezone plan { publicDisplayName } }
}
"""

# cost 2 + 50 x 2 = 102
LOCATIONS = """
query Locations($first: Int!, $after: String) {
  locations(first: $first, after: $after, sortKey: ID) {
    nodes {
      id legacyResourceId name isActive fulfillsOnlineOrders
      address { address1 address2 city provinceCode zip countryCode }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

_VARIANT_FIELDS = """
      id legacyResourceId sku barcode title price position updatedAt
      inventoryItem { id }
      selectedOptions { name value }
"""

# cost 2 + 20 x (1 + 2 + 20 x 3) = 1262 at 20/20 would be too much: 15 products x 20 variants:
# 2 + 15 x (1 + 2 + 20 x 3) = 947
PRODUCTS = f"""
query Products($first: Int!, $after: String, $query: String, $variantsFirst: Int!) {{
  products(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    nodes {{
      id legacyResourceId title handle status vendor productType tags createdAt updatedAt
      variants(first: $variantsFirst) {{
        nodes {{ {_VARIANT_FIELDS} }}
        pageInfo {{ hasNextPage endCursor }}
      }}
    }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""

# cost 1 + 2 + 100 x 3 = 303
PRODUCT_VARIANTS = f"""
query ProductVariants($id: ID!, $first: Int!, $after: String) {{
  product(id: $id) {{
    variants(first: $first, after: $after) {{
      nodes {{ {_VARIANT_FIELDS} }}
      pageInfo {{ hasNextPage endCursor }}
    }}
  }}
}}
"""

# cost 2 + 50 x (1 + 2 + 3 x 3) = 602
INVENTORY_ITEMS = """
query InventoryItems($first: Int!, $after: String, $query: String) {
  inventoryItems(first: $first, after: $after, query: $query) {
    nodes {
      id sku updatedAt
      inventoryLevels(first: 3) {
        nodes {
          location { id }
          quantities(names: ["available", "committed", "on_hand"]) { name quantity }
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

_ORDER_FIELDS = f"""
fragment OrderFields on Order {{
  id legacyResourceId name email phone createdAt updatedAt processedAt cancelledAt cancelReason closed
  displayFinancialStatus displayFulfillmentStatus tags note currencyCode paymentGatewayNames
  totalPriceSet {{ {MONEY} }}
  subtotalPriceSet {{ {MONEY} }}
  totalShippingPriceSet {{ {MONEY} }}
  totalRefundedSet {{ {MONEY} }}
  customer {{ id firstName lastName defaultEmailAddress {{ emailAddress }} }}
  shippingAddress {{ firstName lastName company address1 address2 city province provinceCode zip countryCodeV2 phone }}
  shippingLine {{ title code }}
  lineItems(first: 20) {{
    nodes {{
      id sku name quantity currentQuantity unfulfilledQuantity
      originalUnitPriceSet {{ {MONEY} }}
      variant {{ id }}
    }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""

# cost 2 + 8 x (1 + 8 + 2 + 1 + 1 + (2 + 20 x 4)) = 762
ORDERS = _ORDER_FIELDS + """
query Orders($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    nodes { ...OrderFields }
    pageInfo { hasNextPage endCursor }
  }
}
"""

# cost 1 + 94 + 2 + 5 x (1 + 2 + 2 + 20 x 2) = 322
ORDER = _ORDER_FIELDS + """
query Order($id: ID!) {
  order(id: $id) {
    ...OrderFields
    fulfillmentOrders(first: 5) {
      nodes {
        id status
        assignedLocation { location { id } }
        lineItems(first: 20) { nodes { id remainingQuantity totalQuantity lineItem { id } } }
      }
    }
  }
}
"""

# cost 1 + 2 + 50 x 4 = 203
ORDER_LINE_ITEMS = f"""
query OrderLineItems($id: ID!, $first: Int!, $after: String) {{
  order(id: $id) {{
    lineItems(first: $first, after: $after) {{
      nodes {{
        id sku name quantity currentQuantity unfulfilledQuantity
        originalUnitPriceSet {{ {MONEY} }}
        variant {{ id }}
      }}
      pageInfo {{ hasNextPage endCursor }}
    }}
  }}
}}
"""

# cost 2 + 50 x 3 = 152
CUSTOMERS = """
query Customers($first: Int!, $after: String, $query: String) {
  customers(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    nodes {
      id legacyResourceId firstName lastName tags state createdAt updatedAt
      defaultEmailAddress { emailAddress marketingState }
      defaultPhoneNumber { phoneNumber }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

# cost 2 + 100 = 102
WEBHOOK_SUBSCRIPTIONS = """
query WebhookSubscriptions($first: Int!, $after: String) {
  webhookSubscriptions(first: $first, after: $after) {
    nodes { id topic uri format }
    pageInfo { hasNextPage endCursor }
  }
}
"""

# Mutations cost 10 each.
WEBHOOK_SUBSCRIPTION_CREATE = """
mutation WebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $uri: String!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: {uri: $uri, format: JSON}) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}
"""

WEBHOOK_SUBSCRIPTION_DELETE = """
mutation WebhookSubscriptionDelete($id: ID!) {
  webhookSubscriptionDelete(id: $id) {
    deletedWebhookSubscriptionId
    userErrors { field message }
  }
}
"""

# The inventory mutations require @idempotent from 2026-04 (their schema descriptions).
INVENTORY_SET_QUANTITIES = """
mutation InventorySetQuantities($input: InventorySetQuantitiesInput!, $idempotencyKey: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $idempotencyKey) {
    inventoryAdjustmentGroup {
      id reason
      changes { name delta quantityAfterChange item { id } location { id } }
    }
    userErrors { field message code }
  }
}
"""

INVENTORY_ADJUST_QUANTITIES = """
mutation InventoryAdjustQuantities($input: InventoryAdjustQuantitiesInput!, $idempotencyKey: String!) {
  inventoryAdjustQuantities(input: $input) @idempotent(key: $idempotencyKey) {
    inventoryAdjustmentGroup {
      id reason
      changes { name delta quantityAfterChange item { id } location { id } }
    }
    userErrors { field message code }
  }
}
"""

FULFILLMENT_CREATE = """
mutation FulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id name status trackingInfo { company number url } }
    userErrors { field message }
  }
}
"""

TAGS_ADD = """
mutation TagsAdd($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) {
    node { id }
    userErrors { field message }
  }
}
"""

TAGS_REMOVE = """
mutation TagsRemove($id: ID!, $tags: [String!]!) {
  tagsRemove(id: $id, tags: $tags) {
    node { id }
    userErrors { field message }
  }
}
"""

REFUND_CREATE = f"""
mutation RefundCreate($input: RefundInput!, $idempotencyKey: String!) {{
  refundCreate(input: $input) @idempotent(key: $idempotencyKey) {{
    refund {{ id createdAt totalRefundedSet {{ {MONEY} }} }}
    order {{ id displayFinancialStatus }}
    userErrors {{ field message }}
  }}
}}
"""

# What returnCreate needs: shipped units (fulfillment line items) and the returns already open.
# Page sizes keep it under the 1,000-point single-query limit (20 / 50 items cost 2,093).
ORDER_RETURNABLES = """
query OrderReturnables($id: ID!) {
  order(id: $id) {
    id
    fulfillments(first: 5) {
      id status
      fulfillmentLineItems(first: 20) { nodes { id quantity lineItem { id } } }
    }
    returns(first: 10) {
      nodes { id name status returnLineItems(first: 10) { nodes { id quantity returnReasonNote } } }
    }
  }
}
"""

RETURN_CREATE = """
mutation ReturnCreate($returnInput: ReturnInput!) {
  returnCreate(returnInput: $returnInput) {
    return { id name status }
    userErrors { field message code }
  }
}
"""

ORDER_CANCEL = """
mutation OrderCancel($orderId: ID!, $reason: OrderCancelReason!, $restock: Boolean!,
                     $refundMethod: OrderCancelRefundMethodInput) {
  orderCancel(orderId: $orderId, reason: $reason, restock: $restock, refundMethod: $refundMethod) {
    job { id done }
    orderCancelUserErrors { field message code }
  }
}
"""

METAFIELDS_SET = """
mutation MetafieldsSet($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields { id namespace key value type }
    userErrors { field message code }
  }
}
"""

DOCUMENTS: dict[str, str] = {
    "SHOP": SHOP, "LOCATIONS": LOCATIONS, "PRODUCTS": PRODUCTS, "PRODUCT_VARIANTS": PRODUCT_VARIANTS,
    "INVENTORY_ITEMS": INVENTORY_ITEMS, "ORDERS": ORDERS, "ORDER": ORDER, "ORDER_LINE_ITEMS": ORDER_LINE_ITEMS,
    "CUSTOMERS": CUSTOMERS, "WEBHOOK_SUBSCRIPTIONS": WEBHOOK_SUBSCRIPTIONS,
    "WEBHOOK_SUBSCRIPTION_CREATE": WEBHOOK_SUBSCRIPTION_CREATE,
    "WEBHOOK_SUBSCRIPTION_DELETE": WEBHOOK_SUBSCRIPTION_DELETE,
    "INVENTORY_SET_QUANTITIES": INVENTORY_SET_QUANTITIES, "INVENTORY_ADJUST_QUANTITIES": INVENTORY_ADJUST_QUANTITIES,
    "FULFILLMENT_CREATE": FULFILLMENT_CREATE, "TAGS_ADD": TAGS_ADD, "TAGS_REMOVE": TAGS_REMOVE,
    "REFUND_CREATE": REFUND_CREATE, "RETURN_CREATE": RETURN_CREATE,
    "ORDER_RETURNABLES": ORDER_RETURNABLES, "ORDER_CANCEL": ORDER_CANCEL,
    "METAFIELDS_SET": METAFIELDS_SET,
}


def all_documents() -> list[dict[str, str]]:
    """[{"name": ..., "document": ...}] for every document the connector sends."""
    return [{"name": name, "document": document.strip()} for name, document in DOCUMENTS.items()]
