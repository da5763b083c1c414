"""Typed Stripe objects: the fields this service reads, in both the 2020-era and current shapes.

Stripe moved fields between API versions: a subscription's period sits on its items now (on the
subscription itself before 2025-03), and an invoice names its subscription under
`parent.subscription_details` (top-level `subscription` before). The models accept both and expose
one accessor per fact, which tries the current place first. Expandable references (`customer`,
`subscription`, ...) are accepted as an id or as the expanded object. Unknown fields are ignored.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class StripeModel(BaseModel):
    """Base: frozen, unknown fields ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")


def expandable_id(value: Any) -> Any:
    """An expandable reference as its id: `"cus_1"`, or `{"id": "cus_1", ...}` expanded."""
    if isinstance(value, dict):
        return value.get("id")
    return value


def _metadata(value: Any) -> Any:
    return {} if value is None else value


class Ref(StripeModel):
    """Anything with an id (a price, a plan)."""

    id: str


class SubscriptionItem(StripeModel):
    """One item of a subscription; current API versions carry the billing period here."""

    price: Ref | None = None
    plan: Ref | None = None
    current_period_start: int | None = None
    current_period_end: int | None = None


class ItemList(StripeModel):
    """A Stripe list (`{"object": "list", "data": [...]}`) of subscription items."""

    data: list[SubscriptionItem] = Field(default_factory=list)


class Subscription(StripeModel):
    """A Stripe subscription."""

    id: str = Field(pattern=r"^sub_")
    object: Literal["subscription"] = "subscription"
    customer: str
    status: str = Field(min_length=1)
    items: ItemList = Field(default_factory=ItemList)
    plan: Ref | None = None
    current_period_end: int | None = None
    cancel_at_period_end: bool = False
    metadata: dict[str, str] = Field(default_factory=dict)
    created: int | None = None
    livemode: bool = False

    check_customer = field_validator("customer", mode="before")(expandable_id)
    check_meta = field_validator("metadata", mode="before")(_metadata)

    @property
    def price_id(self) -> str | None:
        """The price of the first item (the plan, on old single-plan subscriptions)."""
        for item in self.items.data:
            ref = item.price or item.plan
            if ref is not None:
                return ref.id
        return self.plan.id if self.plan else None

    @property
    def period_end(self) -> int | None:
        """End of the current period: on the first item (current API), else top level (old)."""
        for item in self.items.data:
            if item.current_period_end is not None:
                return item.current_period_end
        return self.current_period_end


class PaymentError(StripeModel):
    """`last_payment_error` of a PaymentIntent."""

    type: str | None = None
    code: str | None = None
    decline_code: str | None = None
    message: str | None = None


class PaymentIntent(StripeModel):
    """A Stripe PaymentIntent."""

    id: str = Field(pattern=r"^pi_")
    object: Literal["payment_intent"] = "payment_intent"
    amount: int = Field(ge=0)
    amount_received: int | None = None
    currency: str = Field(min_length=3, max_length=3)
    status: str
    customer: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    last_payment_error: PaymentError | None = None
    livemode: bool = False

    check_customer = field_validator("customer", mode="before")(expandable_id)
    check_meta = field_validator("metadata", mode="before")(_metadata)


class CheckoutSession(StripeModel):
    """A Stripe Checkout Session."""

    id: str = Field(pattern=r"^cs_")
    object: Literal["checkout.session"] = "checkout.session"
    mode: Literal["payment", "subscription", "setup"]
    status: str | None = None
    payment_status: str | None = None
    customer: str | None = None
    client_reference_id: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    subscription: str | Subscription | None = None
    payment_intent: str | None = None
    amount_total: int | None = Field(None, ge=0)
    currency: str | None = None
    livemode: bool = False

    check_refs = field_validator("customer", "payment_intent", mode="before")(expandable_id)
    check_meta = field_validator("metadata", mode="before")(_metadata)

    @property
    def user_id(self) -> str | None:
        """Our user: `client_reference_id`, else `metadata.userId`."""
        return self.client_reference_id or self.metadata.get("userId") or None

    @property
    def subscription_id(self) -> str | None:
        """The subscription's id, whether the reference is expanded or not."""
        if isinstance(self.subscription, Subscription):
            return self.subscription.id
        return self.subscription


class Period(StripeModel):
    """A line's service period."""

    start: int | None = None
    end: int | None = None


class SubscriptionItemDetails(StripeModel):
    """`parent.subscription_item_details` of an invoice line (current API)."""

    subscription: str | None = None


class LineParent(StripeModel):
    """`parent` of an invoice line (current API)."""

    subscription_item_details: SubscriptionItemDetails | None = None


class PriceDetails(StripeModel):
    """`pricing.price_details` of an invoice line (current API)."""

    price: str | None = None

    check_price = field_validator("price", mode="before")(expandable_id)


class LinePricing(StripeModel):
    """`pricing` of an invoice line (current API)."""

    price_details: PriceDetails | None = None


class InvoiceLine(StripeModel):
    """One invoice line item."""

    subscription: str | None = None
    period: Period | None = None
    price: Ref | None = None
    pricing: LinePricing | None = None
    parent: LineParent | None = None

    check_sub = field_validator("subscription", mode="before")(expandable_id)

    @property
    def subscription_id(self) -> str | None:
        """The subscription this line bills, in either shape."""
        if self.parent and self.parent.subscription_item_details:
            found = self.parent.subscription_item_details.subscription
            if found:
                return found
        return self.subscription

    @property
    def price_id(self) -> str | None:
        """The line's price, in either shape."""
        if self.pricing and self.pricing.price_details and self.pricing.price_details.price:
            return self.pricing.price_details.price
        return self.price.id if self.price else None


class LineList(StripeModel):
    """A Stripe list of invoice lines."""

    data: list[InvoiceLine] = Field(default_factory=list)


class SubscriptionDetails(StripeModel):
    """`parent.subscription_details` of an invoice (current API)."""

    subscription: str | None = None

    check_sub = field_validator("subscription", mode="before")(expandable_id)


class InvoiceParent(StripeModel):
    """`parent` of an invoice (current API)."""

    type: str | None = None
    subscription_details: SubscriptionDetails | None = None


class Invoice(StripeModel):
    """A Stripe invoice."""

    id: str = Field(pattern=r"^in_")
    object: Literal["invoice"] = "invoice"
    customer: str
    status: str | None = None
    billing_reason: str | None = None
    subscription: str | None = None
    parent: InvoiceParent | None = None
    lines: LineList = Field(default_factory=LineList)
    livemode: bool = False

    check_refs = field_validator("customer", "subscription", mode="before")(expandable_id)

    @property
    def subscription_id(self) -> str | None:
        """The subscription this invoice bills: under `parent` (current), else top level."""
        if self.parent and self.parent.subscription_details:
            found = self.parent.subscription_details.subscription
            if found:
                return found
        return self.subscription

    def subscription_lines(self) -> list[InvoiceLine]:
        """The lines billing this invoice's subscription."""
        sub = self.subscription_id
        return [line for line in self.lines.data if sub and line.subscription_id == sub]
