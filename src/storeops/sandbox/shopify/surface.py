"""The part of Shopify's Admin GraphQL 2026-07 schema this sandbox implements.

scripts/prune_shopify_schema.py reads this table and the full schema
(shared/vendor-specs/shopify/admin-2026-07.graphql) and writes the pruned SDL the
sandbox executes against (data/admin-2026-07.pruned.graphql). Every field kept here is
resolved by the sandbox, so a query for a real-but-not-emulated field fails validation
with Shopify's "doesn't exist" error instead of returning made-up nulls; the connector's
documents are checked against the FULL schema in tests/connectors/test_shopify_contract.py.

Rules the script applies (field names must exist in the full schema, with their types
and arguments copied verbatim):
- object and interface types list the fields kept; LEAF keeps every scalar/enum field
  that is not deprecated and has no required arguments;
- `...Connection` / `...Edge` types not listed keep edges/nodes/pageInfo and cursor/node;
- input objects, enums and scalars reached from kept fields are kept whole;
- an object keeps only the interfaces that are themselves kept, and a union only its
  kept members.
"""

from __future__ import annotations

LEAF = "*leaf"

MONEY = ["shopMoney", "presentmentMoney"]

SURFACE: dict[str, list[str]] = {
    "QueryRoot": [
        "shop", "node", "nodes", "locations", "location", "products", "product", "productVariants",
        "productVariant", "inventoryItems", "inventoryItem", "inventoryLevel", "customers", "customer",
        "orders", "order", "fulfillmentOrders", "fulfillmentOrder", "webhookSubscriptions",
        "webhookSubscription",
    ],
    "Mutation": [
        "inventorySetQuantities", "inventoryAdjustQuantities", "fulfillmentCreate", "refundCreate",
        "returnCreate", "orderCancel", "tagsAdd", "tagsRemove", "metafieldsSet", "productUpdate",
        "webhookSubscriptionCreate", "webhookSubscriptionDelete",
    ],
    # --- interfaces ---------------------------------------------------------------------
    "Node": ["id"],
    "DisplayableError": ["field", "message"],
    "ReturnLineItemType": [
        "id", "quantity", "returnReasonNote", "customerNote", "processedQuantity", "unprocessedQuantity",
        "processableQuantity", "refundableQuantity", "refundedQuantity",
    ],
    # --- shop and locations -------------------------------------------------------------
    "Shop": [
        "id", "name", "email", "contactEmail", "myshopifyDomain", "currencyCode", "ianaTimezone",
        "weightUnit", "plan", "createdAt", "updatedAt", "url",
    ],
    "ShopPlan": [LEAF],
    "Location": [
        "id", "legacyResourceId", "name", "address", "isActive", "fulfillsOnlineOrders", "shipsInventory",
        "hasActiveInventory", "createdAt", "updatedAt", "inventoryLevels", "inventoryLevel",
    ],
    "LocationAddress": [LEAF],
    # --- catalog and inventory ----------------------------------------------------------
    "Product": [
        "id", "legacyResourceId", "title", "handle", "descriptionHtml", "vendor", "productType", "status",
        "tags", "createdAt", "updatedAt", "publishedAt", "totalInventory", "tracksInventory",
        "hasOnlyDefaultVariant", "options", "variants", "variantsCount", "seo",
    ],
    "SEO": [LEAF],
    "ProductOption": ["id", "name", "position", "values"],
    "Count": [LEAF],
    "ProductVariant": [
        "id", "legacyResourceId", "title", "displayName", "sku", "barcode", "price", "compareAtPrice",
        "position", "inventoryQuantity", "inventoryPolicy", "availableForSale", "taxable", "createdAt",
        "updatedAt", "selectedOptions", "product", "inventoryItem",
    ],
    "SelectedOption": ["name", "value"],
    "InventoryItem": [
        "id", "legacyResourceId", "sku", "tracked", "requiresShipping", "createdAt", "updatedAt",
        "measurement", "unitCost", "inventoryLevels", "inventoryLevel",
    ],
    "InventoryItemMeasurement": ["id", "weight"],
    "Weight": [LEAF],
    "InventoryLevel": ["id", "item", "location", "quantities", "isActive", "canDeactivate", "createdAt", "updatedAt"],
    "InventoryQuantity": [LEAF],
    "InventoryAdjustmentGroup": ["id", "createdAt", "reason", "referenceDocumentUri", "changes"],
    "InventoryChange": ["name", "delta", "quantityAfterChange", "ledgerDocumentUri", "item", "location"],
    "MoneyV2": [LEAF],
    "MoneyBag": MONEY,
    # --- customers and orders -----------------------------------------------------------
    "Customer": [
        "id", "legacyResourceId", "firstName", "lastName", "displayName", "defaultEmailAddress",
        "defaultPhoneNumber", "defaultAddress", "tags", "note", "state", "verifiedEmail", "taxExempt",
        "numberOfOrders", "amountSpent", "createdAt", "updatedAt", "orders",
    ],
    "CustomerEmailAddress": ["emailAddress", "marketingState", "marketingOptInLevel", "marketingUpdatedAt"],
    "CustomerPhoneNumber": ["phoneNumber"],
    "MailingAddress": [
        "id", "firstName", "lastName", "name", "company", "address1", "address2", "city", "province",
        "provinceCode", "country", "countryCodeV2", "zip", "phone", "latitude", "longitude",
    ],
    "Order": [
        "id", "legacyResourceId", "name", "number", "email", "phone", "createdAt", "updatedAt",
        "processedAt", "cancelledAt", "cancelReason", "closed", "closedAt", "confirmed", "test", "tags",
        "note", "currencyCode", "sourceName", "displayFinancialStatus", "displayFulfillmentStatus",
        "fullyPaid", "unpaid", "requiresShipping", "subtotalLineItemsQuantity", "totalWeight",
        "paymentGatewayNames", "customAttributes", "customer", "shippingAddress", "billingAddress",
        "shippingLine", "lineItems", "fulfillmentOrders", "fulfillments", "refunds", "returns",
        "subtotalPriceSet", "totalShippingPriceSet", "totalTaxSet", "totalDiscountsSet", "totalPriceSet",
        "currentTotalPriceSet", "totalRefundedSet", "totalOutstandingSet",
    ],
    "Attribute": [LEAF],
    "LineItem": [
        "id", "name", "title", "variantTitle", "sku", "vendor", "quantity", "currentQuantity",
        "unfulfilledQuantity", "refundableQuantity", "requiresShipping", "taxable", "originalUnitPriceSet",
        "discountedUnitPriceSet", "originalTotalSet", "discountedTotalSet", "totalDiscountSet", "variant",
        "product", "customAttributes",
    ],
    "ShippingLine": [
        "id", "title", "code", "source", "carrierIdentifier", "custom", "isRemoved", "originalPriceSet",
        "discountedPriceSet", "currentDiscountedPriceSet",
    ],
    "FulfillmentOrder": [
        "id", "status", "requestStatus", "createdAt", "updatedAt", "orderId", "orderName",
        "orderProcessedAt", "assignedLocation", "destination", "lineItems", "fulfillments", "order",
        "supportedActions",
    ],
    "FulfillmentOrderSupportedAction": [LEAF],
    "FulfillmentOrderAssignedLocation": [
        "name", "address1", "address2", "city", "province", "zip", "countryCode", "phone", "location",
    ],
    "FulfillmentOrderDestination": [
        "id", "firstName", "lastName", "company", "address1", "address2", "city", "province", "zip",
        "countryCode", "phone", "email",
    ],
    "FulfillmentOrderLineItem": [
        "id", "sku", "productTitle", "variantTitle", "vendor", "totalQuantity", "remainingQuantity",
        "requiresShipping", "inventoryItemId", "lineItem", "variant",
    ],
    "Fulfillment": [
        "id", "legacyResourceId", "name", "status", "displayStatus", "createdAt", "updatedAt",
        "totalQuantity", "requiresShipping", "trackingInfo", "fulfillmentLineItems", "order", "location",
    ],
    "FulfillmentTrackingInfo": [LEAF],
    "FulfillmentLineItem": ["id", "quantity", "lineItem", "originalTotalSet", "discountedTotalSet"],
    "Refund": [
        "id", "legacyResourceId", "note", "createdAt", "updatedAt", "processedAt", "totalRefundedSet",
        "refundLineItems", "order", "return",
    ],
    "RefundLineItem": [
        "id", "quantity", "restockType", "restocked", "lineItem", "location", "priceSet", "subtotalSet",
        "totalTaxSet",
    ],
    "Return": ["id", "name", "status", "createdAt", "closedAt", "totalQuantity", "order", "returnLineItems"],
    "ReturnLineItem": [
        "id", "quantity", "returnReasonNote", "customerNote", "processedQuantity", "unprocessedQuantity",
        "processableQuantity", "refundableQuantity", "refundedQuantity", "fulfillmentLineItem",
    ],
    # --- metafields, webhooks, jobs, errors ---------------------------------------------
    "Metafield": [
        "id", "legacyResourceId", "namespace", "key", "value", "type", "jsonValue", "compareDigest",
        "ownerType", "createdAt", "updatedAt",
    ],
    "WebhookSubscription": [
        "id", "legacyResourceId", "topic", "uri", "callbackUrl", "filter", "format", "includeFields",
        "metafieldNamespaces", "name", "apiVersion", "createdAt", "updatedAt",
    ],
    "ApiVersion": [LEAF],
    "Job": ["id", "done"],
    "PageInfo": [LEAF],
    "UserError": [LEAF],
    "InventorySetQuantitiesUserError": [LEAF],
    "InventoryAdjustQuantitiesUserError": [LEAF],
    "ReturnUserError": [LEAF],
    "MetafieldsSetUserError": [LEAF],
    "OrderCancelUserError": [LEAF],
    # --- mutation payloads --------------------------------------------------------------
    "InventorySetQuantitiesPayload": ["inventoryAdjustmentGroup", "userErrors"],
    "InventoryAdjustQuantitiesPayload": ["inventoryAdjustmentGroup", "userErrors"],
    "FulfillmentCreatePayload": ["fulfillment", "userErrors"],
    "RefundCreatePayload": ["refund", "order", "userErrors"],
    "ReturnCreatePayload": ["return", "userErrors"],
    "OrderCancelPayload": ["job", "orderCancelUserErrors"],
    "TagsAddPayload": ["node", "userErrors"],
    "TagsRemovePayload": ["node", "userErrors"],
    "MetafieldsSetPayload": ["metafields", "userErrors"],
    "ProductUpdatePayload": ["product", "userErrors"],
    "WebhookSubscriptionCreatePayload": ["webhookSubscription", "userErrors"],
    "WebhookSubscriptionDeletePayload": ["deletedWebhookSubscriptionId", "userErrors"],
}

# Directives the sandbox honours besides the built-in ones (@idempotent: inventory and
# refund mutations require it from 2026-04, per their descriptions in the schema).
DIRECTIVES = ["idempotent"]
