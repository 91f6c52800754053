"""Credit Risk domain."""

from domains.credit_risk.domain import CreditRiskDomain

__all__ = ["CreditRiskDomain"]
