"""``/api/v1/blocks``: the catalogue of control blocks a logic program may use, for the editor's palette.

Every kind of ``openbms.control.blocks.BLOCKS`` with its ports, parameters
(from the block's pydantic ``Params`` model: types, units, limits, defaults,
choices, descriptions) and flags, so the browser never keeps a copy of its
own. The same for every site: any signed-in user may read it.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from openbms.api.auth.permissions import authenticated
from openbms.api.auth.principal import Principal
from openbms.control.blocks.catalogue import describe_blocks
from openbms.model.sample import Value

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["programs"])


class PortOut(BaseModel):
    """One input or output of a block."""

    name: str
    type: Literal["number", "bool", "any"]
    unit: str | None = Field(description="A unit symbol; 'same': one unit for every 'same' port of the "
                                         "block (whichever its first wired input brings); null: any unit.")
    required: bool = Field(description="An input that must be wired (outputs: always true).")
    default: Value = Field(description="What an unwired optional input takes.")
    group: str | None = Field(description="The family of a numbered port ('in' for in1…in8), else null.")


class VariadicOut(BaseModel):
    """A family of numbered ports (``in1`` … ``in8``): how many exist, how many must be wired."""

    group: str
    first: int
    last: int
    required: int = Field(description="How many of the family are required inputs (the first ones).")
    count_param: str | None = Field(description="The parameter that says how many the block uses "
                                                "(leadlag's n); null: as many as are wired.")


class ParamOut(BaseModel):
    """One parameter, from the block's parameter model."""

    name: str
    type: Literal["number", "integer", "boolean", "string", "enum", "any"]
    nullable: bool = Field(description="May be null (e.g. 'no limit').")
    required: bool
    default: Any = None
    description: str
    unit: str | None = Field(description="A unit symbol ('s', 'h') or 'unit of <port>'; null: none.")
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    choices: list[Any] | None = Field(None, description="The values an enum parameter may take.")


class BlockKindOut(BaseModel):
    """A block kind as the editor's palette shows it."""

    kind: str = Field(description="What a program's block node names in its 'block' field.")
    title: str
    description: str
    inputs: list[PortOut]
    outputs: list[PortOut]
    variadic_inputs: list[VariadicOut]
    variadic_outputs: list[VariadicOut]
    params: list[ParamOut]
    params_description: str = Field(description="The parameters' rules across fields (out_min < out_max).")
    params_schema: dict[str, Any] = Field(description="The parameters' JSON schema, the source of 'params'.")
    dynamic_inputs: str | None = Field(description="The parameter that names the inputs of a block of "
                                       "kind (expression: its formula); null: 'inputs' lists them.")
    time_based: bool = Field(description="Evaluated every period of the program, not only on a change.")
    breaks_cycles: bool = Field(description="A feedback loop through this block is allowed.")


class BlockCatalogueOut(BaseModel):
    """Every block kind, in the catalogue's order."""

    items: list[BlockKindOut]


@router.get("/blocks", response_model=BlockCatalogueOut)
async def list_blocks(user: Principal = authenticated()) -> dict[str, Any]:
    """Every control block kind: ports, parameters with units and limits, and flags."""
    return {"items": list(describe_blocks())}
