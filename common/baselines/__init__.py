"""Baseline models shared by several papers (U-Net, Inception U-Net, CONCORDe-Net, SC-CNN).

They land with the paper issues that first need them (AwareNet: CONCORDe-Net; MapDe: SC-CNN; S-DRDIN: the
plain U-Net of `common.baselines.unet`).
"""
