"""Baseline models shared by several papers (U-Net, CONCORDe-Net, SC-CNN).

They land with the paper issues that first need them (AwareNet: U-Net and CONCORDe-Net; MapDe: SC-CNN).
"""
